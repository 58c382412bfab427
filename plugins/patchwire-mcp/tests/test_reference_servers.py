"""The reference MCP servers from PyPI, run for real over stdio: ``mcp-server-time`` and
``mcp-server-git`` (on a scratch repository). Integration tests: real processes, real clock.
Install them with ``pip install patchwire-mcp[test]``."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from patchwire.cli.main import main as cli_main
from patchwire.errors import InvalidRequestError
from patchwire.hub import Hub

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        importlib.util.find_spec("mcp_server_time") is None
        or importlib.util.find_spec("mcp_server_git") is None,
        reason="needs the reference servers: pip install mcp-server-time mcp-server-git",
    ),
]


def server(module: str, *args: str, **table: object) -> dict[str, object]:
    return {"type": "mcp", "command": sys.executable, "args": ["-m", module, *args], **table}


async def test_time_server_tools_calls_and_failures(make_hub: Callable[..., Hub]) -> None:
    hub = make_hub({"time": server("mcp_server_time", min_tools_ttl=60)})
    tool = hub.tool("time")
    tools = {t.name: t for t in await tool.list()}
    assert set(tools) == {"get_current_time", "convert_time"}
    schema = tools["convert_time"].input_schema
    assert schema is not None
    assert set(schema["required"]) == {"source_timezone", "time", "target_timezone"}

    now = await tool.call("get_current_time", timezone="Europe/London")
    assert now.output["timezone"] == "Europe/London"
    assert json.loads(now.text)["datetime"] == now.output["datetime"]

    with pytest.raises(InvalidRequestError) as failed:
        await tool.call("get_current_time", timezone="Nowhere/Land")
    assert "Invalid timezone" in failed.value.message and failed.value.code == "isError"

    with pytest.raises(InvalidRequestError) as invalid:
        await tool.call("get_current_time", timezone=5)
    assert "timezone: 5 is not of type 'string'" in invalid.value.message
    assert invalid.value.attempts == 0, "refused before any attempt"

    with pytest.raises(InvalidRequestError) as unknown:
        await tool.call("get_time", timezone="UTC")
    assert "Its tools: convert_time, get_current_time" in unknown.value.message

    row = hub.metrics().for_model("time", None)
    assert row.succeeded == 2 and row.failed == 3
    assert row.errors == {"invalid_request": 3}


async def test_git_server_on_a_scratch_repository(
    make_hub: Callable[..., Hub], git_repo: Path, tmp_path: Path
) -> None:
    hub = make_hub({"git": server("mcp_server_git", "-r", str(git_repo))})
    tool = hub.tool("git")
    names = {t.name for t in await tool.list()}
    assert {"git_status", "git_log", "git_add", "git_commit"} <= names

    status = await tool.call("git_status", repo_path=str(git_repo))
    assert "On branch main" in status.text and "notes.txt" in status.text
    log = await tool.call("git_log", repo_path=str(git_repo))
    assert "first commit" in log.text

    with pytest.raises(InvalidRequestError) as outside:
        await tool.call("git_status", repo_path=str(tmp_path))
    assert "outside the allowed repository" in outside.value.message
    with pytest.raises(InvalidRequestError) as missing:
        await tool.call("git_status")
    assert "'repo_path' is a required property" in missing.value.message


def test_cli_lists_a_servers_tools_with_their_schemas(
    tmp_path: Path, git_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "patchwire.toml"
    config.write_text(
        "[connectors.git]\n"
        'type = "mcp"\n'
        f"command = {json.dumps(sys.executable)}\n"
        f'args = ["-m", "mcp_server_git", "-r", {json.dumps(str(git_repo))}]\n'
    )
    assert cli_main(["tool", "git", "--list", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "git_status: " in out
    assert '"repo_path"' in out
