"""The exec: source runs real credential-helper programs (python scripts) as subprocesses."""

from __future__ import annotations

import shlex
import sys
import textwrap
import time
from pathlib import Path

import pytest
from patchwire.clock import VirtualClock
from patchwire.errors import AuthError
from patchwire.exec_source import ExecSource
from patchwire.plugins import PluginHost
from patchwire.redact import Redactor
from patchwire.secrets import SecretNotFound, SecretResolver
from patchwire.testing import FakeScript

from .support import hub_for

pytestmark = pytest.mark.integration  # real subprocesses

VALUE = "helper-secret-value-9f3a1c"


def helper(tmp_path: Path, body: str) -> str:
    """An ``exec:`` reference that runs ``body`` as a Python credential helper."""
    script = tmp_path / "helper.py"
    script.write_text(textwrap.dedent(body))
    return f"exec:{shlex.quote(sys.executable)} {shlex.quote(str(script))}"


def test_the_value_is_stdout_without_its_trailing_newline(tmp_path: Path) -> None:
    ref = helper(tmp_path, f"print({VALUE!r})")
    assert ExecSource().load(ref.removeprefix("exec:")) == VALUE


def test_no_shell_interprets_the_reference(tmp_path: Path) -> None:
    # echo gets the literal argument: no variable expansion, no command substitution.
    assert ExecSource().load("echo $HOME;$(id)") == "$HOME;$(id)"


def test_a_failing_helper_names_program_status_and_stderr_never_stdout(tmp_path: Path) -> None:
    ref = helper(
        tmp_path,
        f"""
        import sys
        print({VALUE!r})
        print("vault: permission denied", file=sys.stderr)
        sys.exit(3)
        """,
    )
    with pytest.raises(SecretNotFound) as info:
        ExecSource().load(ref.removeprefix("exec:"))
    text = str(info.value)
    assert "exited with status 3" in text and "permission denied" in text
    assert VALUE not in text


def test_empty_output_missing_program_and_bad_quoting_are_named(tmp_path: Path) -> None:
    with pytest.raises(SecretNotFound, match="printed nothing"):
        ExecSource().load(helper(tmp_path, "print()").removeprefix("exec:"))
    with pytest.raises(SecretNotFound, match="was not found"):
        ExecSource().load("/nonexistent/credential-helper get")
    with pytest.raises(SecretNotFound, match="command line"):
        ExecSource().load("vault 'unclosed")
    with pytest.raises(SecretNotFound, match="names no program"):
        ExecSource().load("   ")


def test_a_helper_that_hangs_is_ended_with_everything_it_started(tmp_path: Path) -> None:
    pidfile = tmp_path / "grandchild.pid"
    ref = helper(
        tmp_path,
        f"""
        import subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        open({str(pidfile)!r}, "w").write(str(child.pid))
        time.sleep(60)
        """,
    )
    started = time.monotonic()
    with pytest.raises(SecretNotFound, match=r"did not answer within 0\.5 s"):
        ExecSource(timeout=0.5).load(ref.removeprefix("exec:"))
    assert time.monotonic() - started < 10
    grandchild = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)  # real time: the kernel reaps the killed process asynchronously
    assert not _alive(grandchild)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_the_resolver_names_the_reference_and_redacts_nothing_it_never_loaded(
    tmp_path: Path,
) -> None:
    ref = helper(tmp_path, "import sys; sys.exit(1)")
    resolver = SecretResolver({"exec": ExecSource()}, VirtualClock(), Redactor())
    with pytest.raises(AuthError) as info:
        resolver.resolve(ref, where="connector 'fake'")
    assert "connector 'fake'" in info.value.message
    assert "exited with status 1" in info.value.message


async def test_a_rotated_value_is_read_again_after_the_ttl(
    tmp_path: Path,
    plugin_host: PluginHost,
    virtual_clock: VirtualClock,
    fake_scripts: dict[str, FakeScript],
) -> None:
    store = tmp_path / "store.txt"
    store.write_text("rotating-value-one")
    ref = helper(tmp_path, f"print(open({str(store)!r}).read())")
    fake_scripts["fake"] = FakeScript(default="ok")
    async with hub_for(
        plugin_host, virtual_clock, {"auth": {"scheme": "bearer", "token": ref}}
    ) as hub:
        model = hub.model("fake:m")
        await model.complete("a")
        store.write_text("rotating-value-two")
        await model.complete("b")  # still within the TTL: the helper is not run again
        await virtual_clock.sleep(ExecSource().ttl or 0)
        await model.complete("c")
    sent = [c.headers["Authorization"] for c in fake_scripts["fake"].calls]
    assert sent == [
        "Bearer rotating-value-one",
        "Bearer rotating-value-one",
        "Bearer rotating-value-two",
    ]
