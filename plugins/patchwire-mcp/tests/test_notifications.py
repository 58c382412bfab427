"""Notifications from the server: progress reaches the application's handler during the
call, a changed tool list is listed again before the next call is checked, and a call past
its deadline is cancelled at the server. The toolbox runs over stdio with ``--notify`` in a
handshake-era session; the cancellation is seen by servers/jsonrpc.py over HTTP. Integration tests: a real
server process on the real clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from patchwire.errors import DegradedError, InvalidRequestError
from patchwire.hub import Hub
from patchwire_mcp import Progress, attach

pytestmark = pytest.mark.integration


async def test_progress_reaches_the_handler_during_the_call(
    make_hub: Callable[..., Hub], toolbox_table: Callable[..., dict[str, Any]]
) -> None:
    hub = make_hub({"tb": toolbox_table("--notify", protocol="legacy")})
    seen: list[Progress] = []

    async def on_progress(update: Progress) -> None:
        seen.append(update)

    attach(hub, "tb", progress=on_progress)
    result = await hub.tool("tb").call("steps", count=3)
    assert result.text == "3 steps"
    assert seen == [Progress("tb", "steps", float(n), 3.0, f"step {n}") for n in (1, 2, 3)]


async def test_a_failing_progress_handler_does_not_fail_the_call(
    make_hub: Callable[..., Hub], toolbox_table: Callable[..., dict[str, Any]]
) -> None:
    hub = make_hub({"tb": toolbox_table("--notify", protocol="legacy")})

    def broken(update: Progress) -> None:
        raise RuntimeError("the progress bar broke")

    attach(hub, "tb", progress=broken)
    assert (await hub.tool("tb").call("steps", count=2)).text == "2 steps"


async def test_a_changed_tool_list_is_listed_again_before_the_next_call(
    make_hub: Callable[..., Hub], toolbox_table: Callable[..., dict[str, Any]]
) -> None:
    # A long TTL: only the notification can make the listing stale.
    hub = make_hub({"tb": toolbox_table("--notify", protocol="legacy", tools_ttl=3600)})
    tool = hub.tool("tb")
    names = {t.name for t in await tool.list()}
    assert "extra" not in names
    with pytest.raises(InvalidRequestError):
        await tool.call("extra")
    assert (await tool.call("grow")).text == "grown"
    assert "extra" in {t.name for t in await tool.list()}
    assert (await tool.call("extra")).text == "extra"


async def test_a_call_past_its_deadline_sends_the_server_a_cancellation(
    make_hub: Callable[..., Hub], jsonrpc: Any
) -> None:
    server = jsonrpc.LegacyServer()
    async with jsonrpc.serving(server) as url:
        hub = make_hub({"srv": {"type": "mcp", "url": url, "retry": {"max_attempts": 1}}})
        with pytest.raises(DegradedError):
            await hub.tool("srv").call("wait", timeout=0.5)
        await asyncio.wait_for(server.cancel.wait(), 10)
    assert server.cancelled == server.waiting and len(server.waiting) == 1
