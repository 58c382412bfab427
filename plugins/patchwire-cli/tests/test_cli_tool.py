"""The cli connector through ``hub.tool(...)``, driving real programs: jq, pandoc, python.

Integration: real subprocesses on real time.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from patchwire.errors import (
    AuthError,
    DegradedError,
    IntegrationError,
    InvalidRequestError,
    PatchwireError,
)
from patchwire.hub import Hub

pytestmark = pytest.mark.integration

HubFactory = Callable[..., Hub]

needs_jq = pytest.mark.skipif(shutil.which("jq") is None, reason="jq is not installed")
needs_pandoc = pytest.mark.skipif(shutil.which("pandoc") is None, reason="pandoc is not installed")

ARGV_AS_JSON = "import json, sys; print(json.dumps(sys.argv[1:]))"
PID_THEN_HANG = """
import os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
open(sys.argv[1], "w").write(str(os.getpid()))
time.sleep(60)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


@needs_jq
async def test_jq_json_and_json_lines(make_hub: HubFactory) -> None:
    doc = json.dumps({"items": [{"id": 1, "tags": ["a"]}, {"id": 2, "tags": []}], "total": 2})
    hub = make_hub(
        {
            "query": {"argv": ["jq", "-c", "{filter}"], "stdin": "doc", "output": "json"},
            "each": {"argv": ["jq", "-c", "{filter}"], "stdin": "doc", "output": "jsonl"},
        }
    )
    async with hub:
        tool = hub.tool("tool")
        total = await tool.call("query", filter=".total", doc=doc)
        items = await tool.call("each", filter=".items[]", doc=doc)
    assert total.output == 2
    assert total.metadata["exit_code"] == 0
    assert items.output == [{"id": 1, "tags": ["a"]}, {"id": 2, "tags": []}]
    assert items.text.count("\n") == 2


@needs_jq
async def test_jq_refusing_its_filter_is_an_error_carrying_its_stderr(make_hub: HubFactory) -> None:
    hub = make_hub(
        {
            "query": {
                "argv": ["jq", "{filter}"],
                "stdin": "doc",
                "output": "json",
                "exit_codes": {"3": "invalid_request"},  # jq: 3 = compile error
            }
        }
    )
    async with hub:
        with pytest.raises(InvalidRequestError) as info:
            await hub.tool("tool").call("query", filter=".[[[", doc="{}")
    assert info.value.attempts == 1
    assert info.value.code == "3"
    assert "exited with status 3" in info.value.message
    assert "compile error" in info.value.message  # jq's own stderr, kept


@needs_pandoc
async def test_pandoc_converts_with_defaults_and_arguments(make_hub: HubFactory) -> None:
    hub = make_hub(
        {
            "convert": {
                "argv": ["pandoc", "-f", "{from}", "-t", "{to}"],
                "stdin": "text",
                "defaults": {"from": "markdown", "to": "html"},
                "description": "convert between document formats",
            }
        }
    )
    async with hub:
        tool = hub.tool("tool")
        html = await tool.call("convert", text="# Title\n\nSome *words*.")
        # "from" is a Python keyword, so that argument goes in through a dict.
        to_plain: dict[str, Any] = {"from": "html", "to": "plain"}
        plain = await tool.call("convert", text="<p>Hello <b>there</b></p>", **to_plain)
        listed = await tool.list()
    assert '<h1 id="title">Title</h1>' in html.output
    assert "<em>words</em>" in html.output
    assert plain.output.strip() == "Hello there"
    assert listed[0].name == "convert"
    assert listed[0].input_schema is not None and listed[0].input_schema["required"] == ["text"]


async def test_arguments_reach_the_program_verbatim_never_through_a_shell(
    make_hub: HubFactory, python: list[str], tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    hub = make_hub({"echo": {"argv": [*python, ARGV_AS_JSON, "{a}", "--x={b}"], "output": "json"}})
    hostile = f"; touch {marker} && $(touch {marker}) `touch {marker}` 'quoted' \"double\""
    async with hub:
        result = await hub.tool("tool").call("echo", a=hostile, b="two words")
    assert result.output == [hostile, "--x=two words"]
    assert not marker.exists()


async def test_an_option_shaped_value_is_refused_before_anything_runs(
    make_hub: HubFactory, python: list[str]
) -> None:
    hub = make_hub({"echo": {"argv": [*python, ARGV_AS_JSON, "{a}"]}})
    async with hub:
        with pytest.raises(InvalidRequestError, match="would be read as an option") as info:
            await hub.tool("tool").call("echo", a="--output=/etc/passwd")
    assert info.value.attempts == 0


async def test_lines_output_and_working_directory(
    make_hub: HubFactory, python: list[str], tmp_path: Path
) -> None:
    hub = make_hub(
        {
            "where": {
                "argv": [*python, "import os; print(os.getcwd()); print('second')"],
                "output": "lines",
            }
        },
        cwd=str(tmp_path),
    )
    async with hub:
        result = await hub.tool("tool").call("where")
    assert result.output == [str(tmp_path), "second"]


async def test_environment_allowlist_and_secrets_by_reference(
    make_hub: HubFactory, python: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "ghp-" + "9f8e7d6c" * 4
    monkeypatch.setenv("GH_TOKEN_SOURCE", secret)
    monkeypatch.setenv("ALLOWED_VAR", "yes")
    monkeypatch.setenv("PRIVATE_VAR", "must not leak")
    script = (
        "import json, os, sys\n"
        "sys.stderr.write('using token ' + os.environ['GITHUB_TOKEN'])\n"
        "names = ('ALLOWED_VAR', 'PRIVATE_VAR', 'GITHUB_TOKEN')\n"
        "print(json.dumps(dict((k, os.environ.get(k)) for k in names)))\n"
        "sys.exit(int(sys.argv[1]))"
    )
    hub = make_hub(
        {"env": {"argv": [*python, script, "{status}"], "output": "json", "env": ["ALLOWED_VAR"]}},
        env_secrets={"GITHUB_TOKEN": "env:GH_TOKEN_SOURCE"},
    )
    async with hub:
        tool = hub.tool("tool")
        result = await tool.call("env", status=0)
        with pytest.raises(AuthError) as info:
            await tool.call("env", status=77)
    assert result.output == {"ALLOWED_VAR": "yes", "PRIVATE_VAR": None, "GITHUB_TOKEN": secret}
    # stderr is diagnostics: the call's credentials are masked there and in errors.
    assert result.metadata["stderr"] == "using token ****"
    assert secret not in str(info.value) and "using token ****" in info.value.message


async def test_every_lc_variable_is_inherited_by_default_as_the_readme_says(
    make_hub: HubFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 13.5: the default allowlist passes every LC_* variable, not only two of them."""
    program = shutil.which("env")
    assert program is not None
    for name in ("LC_ALL", "LC_CTYPE", "LC_MESSAGES", "LC_TIME", "LC_MONETARY"):
        monkeypatch.setenv(name, "C.UTF-8")
    monkeypatch.setenv("LCX_NOT_A_LOCALE", "no")
    monkeypatch.setenv("PRIVATE_VAR", "must not leak")
    hub = make_hub({"env": {"argv": [program], "output": "lines"}})
    async with hub:
        result = await hub.tool("tool").call("env")
    seen = dict(line.split("=", 1) for line in result.output)
    assert {"LC_ALL", "LC_CTYPE", "LC_MESSAGES", "LC_TIME", "LC_MONETARY"} <= seen.keys()
    assert "LCX_NOT_A_LOCALE" not in seen and "PRIVATE_VAR" not in seen


async def test_a_missing_secret_is_an_auth_error_before_the_program_runs(
    make_hub: HubFactory, python: list[str]
) -> None:
    hub = make_hub(
        {"run": {"argv": [*python, "print('ran')"], "env_secrets": {"T": "env:PW_CLI_UNSET_VAR"}}}
    )
    async with hub:
        with pytest.raises(AuthError, match="PW_CLI_UNSET_VAR"):
            await hub.tool("tool").call("run")


async def test_configured_exit_codes_including_ok(make_hub: HubFactory, python: list[str]) -> None:
    exit_with = (
        "import sys; sys.stderr.write('reason ' * 1000 + 'at the end'); sys.exit(int(sys.argv[1]))"
    )
    hub = make_hub(
        {"run": {"argv": [*python, exit_with, "{status}"], "exit_codes": {"1": "ok"}}},
        exit_codes={"2": "invalid_request", "1": "transient"},
        max_stderr=100,
    )
    async with hub:
        tool = hub.tool("tool")
        ok = await tool.call("run", status=1)
        with pytest.raises(InvalidRequestError) as bad:
            await tool.call("run", status=2)
        with pytest.raises(IntegrationError) as other:
            await tool.call("run", status=9)
    assert ok.metadata["exit_code"] == 1 and ok.metadata["stderr_truncated"] is True
    assert len(ok.metadata["stderr"]) == 100
    assert bad.value.message.endswith("at the end")  # the end of stderr, bounded
    assert len(bad.value.message) < 200
    assert other.value.code == "9"


async def test_a_timeout_kills_the_program_and_is_degraded(
    make_hub: HubFactory, python: list[str], tmp_path: Path
) -> None:
    pidfile = tmp_path / "pid"
    hub = make_hub({"hang": {"argv": [*python, PID_THEN_HANG, str(pidfile)]}}, timeout=0.5)
    async with hub:
        started = time.monotonic()
        with pytest.raises(DegradedError, match="timed out") as info:
            await hub.tool("tool").call("hang")
        elapsed = time.monotonic() - started
    assert info.value.attempts == 1
    # The timeout, then the kill grace: well before the program's own 60 s (loose for load).
    assert 0.5 <= elapsed < 30
    assert not _alive(int(_read(pidfile)))


async def test_a_cancelled_call_kills_the_program_and_leaves_no_task(
    make_hub: HubFactory, python: list[str], tmp_path: Path
) -> None:
    pidfile = tmp_path / "pid"
    hub = make_hub({"hang": {"argv": [*python, PID_THEN_HANG, str(pidfile)]}})
    async with hub:
        before = asyncio.all_tasks()
        task = asyncio.ensure_future(hub.tool("tool").call("hang"))
        while not _read(pidfile):
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        leftover = [t for t in asyncio.all_tasks() - before if not t.done()]
    assert not leftover
    assert not _alive(int(_read(pidfile)))


async def test_output_over_the_cap_is_an_integration_error(
    make_hub: HubFactory, python: list[str]
) -> None:
    flood = "import sys\nwhile True: sys.stdout.write('y' * 65536)"
    hub = make_hub({"flood": {"argv": [*python, flood], "max_output": 100_000}})
    async with hub:
        with pytest.raises(IntegrationError, match="more than 100000 bytes"):
            await hub.tool("tool").call("flood")


async def test_output_not_in_the_declared_form_is_an_integration_error(
    make_hub: HubFactory, python: list[str]
) -> None:
    hub = make_hub(
        {
            "json": {"argv": [*python, "print('not json')"], "output": "json"},
            # Braces are doubled: the script is an argv template item too.
            "jsonl": {"argv": [*python, "print('{{}}'); print('nope')"], "output": "jsonl"},
        }
    )
    async with hub:
        with pytest.raises(IntegrationError, match="declares JSON output"):
            await hub.tool("tool").call("json")
        with pytest.raises(IntegrationError, match="line 2 is not JSON"):
            await hub.tool("tool").call("jsonl")


async def test_unknown_commands_and_arguments_fail_without_an_attempt(
    make_hub: HubFactory, python: list[str]
) -> None:
    hub = make_hub({"echo": {"argv": [*python, ARGV_AS_JSON, "{a}"]}})
    async with hub:
        tool = hub.tool("tool")
        with pytest.raises(InvalidRequestError, match="no command 'ech'") as unknown:
            await tool.call("ech", a="x")
        with pytest.raises(InvalidRequestError, match="needs argument"):
            await tool.call("echo")
        with pytest.raises(InvalidRequestError, match="has no argument"):
            await tool.call("echo", a="x", b="y")
    assert unknown.value.attempts == 0


async def test_a_retry_and_a_cache_hit_are_counted_in_metrics(
    make_hub: HubFactory, python: list[str], tmp_path: Path
) -> None:
    # Fails with EX_TEMPFAIL the first time it runs, then answers.
    flaky = (
        "import os, sys\n"
        "p = sys.argv[1]\n"
        "n = int(open(p).read()) if os.path.exists(p) else 0\n"
        "open(p, 'w').write(str(n + 1))\n"
        "sys.exit(75) if n == 0 else print('converted ' + sys.argv[2])"
    )
    runs = tmp_path / "runs"
    hub = make_hub(
        {"convert": {"argv": [*python, flaky, str(runs), "{text}"], "cache": True}},
        retry={"max_attempts": 3, "initial": 0.01, "cap": 0.02},
    )
    async with hub:
        tool = hub.tool("tool")
        first = await tool.call("convert", text="doc")
        second = await tool.call("convert", text="doc")
        row = hub.metrics().for_model("tool", None)
    assert first.output == second.output == "converted doc\n"
    assert (first.attempts, first.cached) == (2, False)
    assert (second.attempts, second.cached) == (0, True)
    assert _read(runs) == "2"  # one failed run, one good run, then the cache
    assert row.succeeded == 2
    assert row.retries.scheduled == 1
    assert row.retries.succeeded_after_retry == 1
    assert row.attempt_errors == {"transient": 1}
    assert (row.cache.hits, row.cache.misses) == (1, 1)


async def test_concurrency_is_limited_per_command(
    make_hub: HubFactory, python: list[str], tmp_path: Path
) -> None:
    # Exits 3 if another run of the same command is going on at the same time.
    exclusive = (
        "import os, sys, time\n"
        "try:\n"
        "    fd = os.open(sys.argv[1], os.O_CREAT | os.O_EXCL)\n"
        "except FileExistsError:\n"
        "    sys.exit(3)\n"
        "time.sleep(0.05)\n"
        "os.close(fd); os.unlink(sys.argv[1])"
    )
    hub = make_hub(
        {
            "own": {"argv": [*python, exclusive, str(tmp_path / "own.lock")], "max_concurrency": 1},
            "core": {"argv": [*python, exclusive, str(tmp_path / "core.lock")]},
        },
        limits={"max_concurrency": 1},
    )
    async with hub:
        tool = hub.tool("tool")
        results: list[Any] = await asyncio.gather(
            *(tool.call(name) for name in ["own", "core"] * 3), return_exceptions=True
        )
        partitions = set(hub.runtime("tool").limiters())
    assert not [r for r in results if isinstance(r, PatchwireError)], results
    # The core limiter partitions by command: each command has its own concurrency slot.
    assert partitions == {"own", "core"}
