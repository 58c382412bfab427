"""The life of a stdio MCP server: started on first use, restarted after it dies, reported
when it cannot start, killed when it will not stop, and its stderr logged. Each test runs
its own server (the toolbox test server) as a real child process, so these are integration
tests on the real clock."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from patchwire.errors import DegradedError, IntegrationError, TransientError
from patchwire.hub import Hub

pytestmark = pytest.mark.integration


async def test_server_killed_mid_call_ends_the_call_and_the_next_call_restarts_it(
    make_hub: Callable[..., Hub], toolbox_table: Callable[..., dict[str, Any]]
) -> None:
    hub = make_hub({"tb": toolbox_table(retry={"max_attempts": 1})})
    tool = hub.tool("tb")
    pid = (await tool.call("whoami")).output["pid"]
    slow = [asyncio.create_task(tool.call("slow", seconds=30)) for _ in range(2)]
    # Both calls are on the server before it dies, however loaded the machine is.
    while (await tool.call("stats")).output.get("call:slow", 0) < 2:
        await asyncio.sleep(0.01)
    started = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    outcomes = await asyncio.wait_for(asyncio.gather(*slow, return_exceptions=True), 25)
    # Well before the 30 s the calls would take: the bound is loose so load cannot fail it.
    assert time.monotonic() - started < 25, "every call on the dead server ends promptly"
    for outcome in outcomes:
        assert isinstance(outcome, TransientError)
        assert "lost the connection to MCP server 'tb'" in outcome.message
    restarted = await tool.call("whoami")
    assert restarted.output["pid"] != pid


async def test_server_that_exits_at_start_is_an_integration_error_with_its_stderr(
    make_hub: Callable[..., Hub], toolbox_table: Callable[..., dict[str, Any]]
) -> None:
    hub = make_hub({"tb": toolbox_table("--exit-at-start")})
    with pytest.raises(IntegrationError) as info:
        await hub.tool("tb").call("echo", text="x")
    assert "exited during start-up" in info.value.message
    assert "refusing to start (--exit-at-start)" in info.value.message
    assert info.value.attempts == 1, "not retried: it would exit again"


async def test_server_that_never_answers_its_handshake_times_out(
    make_hub: Callable[..., Hub], toolbox_table: Callable[..., dict[str, Any]]
) -> None:
    hub = make_hub(
        {"tb": toolbox_table("--hang-at-start", startup_timeout=0.5, retry={"max_attempts": 1})}
    )
    started = time.monotonic()
    with pytest.raises(DegradedError) as info:
        await hub.tool("tb").call("echo", text="x")
    assert "did not finish its handshake within 0.5 s" in info.value.message
    assert time.monotonic() - started < 20  # the server hangs for an hour; loose for load


async def test_hub_close_kills_a_server_that_will_not_exit(
    make_hub: Callable[..., Hub], toolbox_table: Callable[..., dict[str, Any]]
) -> None:
    hub = make_hub({"tb": toolbox_table("--stubborn")})
    pid = (await hub.tool("tb").call("whoami")).output["pid"]
    started = time.monotonic()
    await hub.aclose()
    # A server ignoring stdin and SIGTERM would never exit; loose for load.
    assert time.monotonic() - started < 30, "stdin closed, then SIGTERM, then SIGKILL"
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_server_process_gets_only_allowlisted_environment_its_cwd_and_a_logged_stderr(
    make_hub: Callable[..., Hub],
    toolbox_table: Callable[..., dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="patchwire.mcp.tb")
    monkeypatch.setenv("TOOLBOX_ALLOWED", "yes")
    monkeypatch.setenv("TOOLBOX_SECRET", "hunter2")
    hub = make_hub(
        {"tb": toolbox_table("--noisy", "3", env=["TOOLBOX_ALLOWED"], cwd=str(tmp_path))}
    )
    who = (await hub.tool("tb").call("whoami")).output
    assert "TOOLBOX_ALLOWED" in who["env"]
    assert "TOOLBOX_SECRET" not in who["env"]
    assert who["cwd"] == str(tmp_path)  # pytest hands out resolved paths
    lines = [r.getMessage() for r in caplog.records if r.name == "patchwire.mcp.tb"]
    assert [line for line in lines if "toolbox noise" in line] == [
        "stderr: toolbox noise 0",
        "stderr: toolbox noise 1",
        "stderr: toolbox noise 2",
    ]
