"""Calls through the connector to a real MCP server over stdio (the toolbox test server).

Integration tests: real child processes need the real clock, since a virtual one would jump
past the server's answers. The servers cost about a second each to start, so the tests here
share one hub (and so one server per connector) for the whole module; each test measures
what it needs as a difference of the server's request counts.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from patchwire.errors import DegradedError, InvalidRequestError, TransientError
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire_mcp.plugin import plugin

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

TOOLBOX = str(Path(__file__).parent / "servers" / "toolbox.py")
TOOL_NAMES = ["echo", "add", "slow", "whoami", "fail", "internal", "strict", "probe", "stats"]


def toolbox(*options: str, **table: Any) -> dict[str, Any]:
    return {"type": "mcp", "command": sys.executable, "args": [TOOLBOX, "stdio", *options], **table}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def hub() -> AsyncIterator[Hub]:
    host = PluginHost(load_entry_points=False)
    host.register(plugin, "patchwire-mcp")
    connectors = {
        # Pages of 3, a listing trusted for a minute, two attempts, four calls at a time.
        "tb": toolbox(
            "--page-size",
            "3",
            min_tools_ttl=60,
            retry={"max_attempts": 2, "initial": 0.01},
            limits={"max_concurrency": 4},
        ),
        # The server's own TTL (stale at once), and isError reported as transient.
        "lenient": toolbox(
            "--ttl-ms",
            "0",
            is_error_category="transient",
            retry={"max_attempts": 3, "initial": 0.01},
        ),
        "ttl": toolbox("--page-size", "3", "--ttl-ms", "500"),
        # The handshake era sends no ttlMs, so the configured default decides.
        "legacy": toolbox(protocol="legacy", tools_ttl=60),
        "slowish": toolbox(timeout=0.4, retry={"max_attempts": 2, "initial": 0.01}),
    }
    hub = Hub.from_dict({"connectors": connectors}, host=host)
    async with hub:
        yield hub


async def counts(tool: Any) -> dict[str, int]:
    return dict((await tool.call("stats")).output)


async def test_lists_every_page_and_calls_tools(hub: Hub) -> None:
    tool = hub.tool("tb")
    tools = await tool.list()
    assert [t.name for t in tools] == TOOL_NAMES
    add = next(t for t in tools if t.name == "add")
    assert add.description == "adds two integers"
    assert add.input_schema is not None and add.input_schema["required"] == ["a", "b"]

    result = await tool.call("add", a=2, b=3)
    assert result.output == {"sum": 5}, "structured content is the output"
    assert result.text == "5"
    assert (result.tool, result.operation, result.connector) == ("tb", "add", "tb")
    assert result.attempts == 1
    assert result.metadata["content"] == [{"type": "text", "text": "5"}]
    assert result.metadata["protocol_version"] == "2026-07-28"
    echo = await tool.call("echo", text="hi")
    assert echo.output == [{"type": "text", "text": "hi"}], "else the content blocks are"


async def test_listing_follows_every_cursor_and_is_reused_for_the_servers_ttl(hub: Hub) -> None:
    tool = hub.tool("ttl")
    await tool.list()
    before = (await counts(tool))["tools/list"]
    assert before % 3 == 0, "9 tools in pages of 3: three requests per listing"
    await tool.list()
    assert (await counts(tool))["tools/list"] == before, "a fresh listing is not fetched again"
    await asyncio.sleep(0.55)
    assert [t.name for t in await tool.list()] == TOOL_NAMES
    assert (await counts(tool))["tools/list"] == before + 3, "a stale one is, every page"


async def test_configured_ttl_applies_when_the_server_gives_none(hub: Hub) -> None:
    tool = hub.tool("legacy")
    await tool.list()
    before = (await counts(tool))["tools/list"]
    await tool.list()
    assert (await counts(tool))["tools/list"] == before


async def test_invalid_arguments_are_refused_without_calling_the_tool(hub: Hub) -> None:
    fresh, stale = hub.tool("tb"), hub.tool("lenient")
    await fresh.list()
    await stale.list()
    before = [(await counts(tool)).get("call:add", 0) for tool in (fresh, stale)]
    with pytest.raises(InvalidRequestError) as info:
        await fresh.call("add", a="two", b=3)
    assert "a: 'two' is not of type 'integer'" in info.value.message
    assert info.value.attempts == 0, "a fresh listing refuses before any attempt"

    with pytest.raises(InvalidRequestError) as info:
        await stale.call("add", a=1, b=2, c=3)
    assert "Additional properties are not allowed ('c' was unexpected)" in info.value.message
    assert info.value.attempts == 1, "a stale listing is fetched again before it refuses"
    after = [(await counts(tool)).get("call:add", 0) for tool in (fresh, stale)]
    assert after == before, "no tools/call was sent"


async def test_unknown_tool_names_the_servers_tools(hub: Hub) -> None:
    with pytest.raises(InvalidRequestError) as info:
        await hub.tool("tb").call("ech", text="x")
    assert "has no tool 'ech'. Did you mean 'echo'?" in info.value.message
    assert "add, echo, fail, internal, probe, slow, stats, strict, whoami" in info.value.message


async def test_is_error_result_is_a_tool_failure_never_retried_by_default(hub: Hub) -> None:
    tool = hub.tool("tb")
    before = (await counts(tool)).get("call:fail", 0)
    with pytest.raises(InvalidRequestError) as info:
        await tool.call("fail", message="the disk is full")
    assert info.value.message == "tool 'fail' of MCP server 'tb' failed: the disk is full"
    assert info.value.code == "isError" and info.value.attempts == 1
    assert (await counts(tool))["call:fail"] == before + 1

    lenient = hub.tool("lenient")
    with pytest.raises(TransientError) as retried:
        await lenient.call("fail", message="try again")
    assert retried.value.attempts == 3, "the configured category decides, retries included"
    assert (await counts(lenient))["call:fail"] == 3


async def test_json_rpc_errors_are_classified(hub: Hub) -> None:
    tool = hub.tool("tb")
    before = await counts(tool)
    with pytest.raises(TransientError) as internal:
        await tool.call("internal")
    assert internal.value.code == "-32603" and internal.value.attempts == 2
    with pytest.raises(InvalidRequestError) as strict:
        await tool.call("strict")
    assert strict.value.code == "-32602" and strict.value.attempts == 1
    assert "strict refuses these parameters" in strict.value.message
    after = await counts(tool)
    assert after["call:internal"] - before.get("call:internal", 0) == 2
    assert after["call:strict"] - before.get("call:strict", 0) == 1


async def test_attempt_and_call_deadlines_end_the_call_and_keep_the_session(hub: Hub) -> None:
    tool = hub.tool("slowish")
    pid = (await tool.call("whoami")).output["pid"]
    with pytest.raises(DegradedError) as attempts:
        await tool.call("slow", seconds=10)
    assert attempts.value.attempts == 2, "each attempt timed out at 0.4 s"
    with pytest.raises(DegradedError) as deadline:
        await tool.call("slow", seconds=10, timeout=0.3)
    assert "deadline" in deadline.value.message
    assert (await tool.call("whoami")).output["pid"] == pid, "one session survives it all"


async def test_cancelling_one_call_leaves_the_others_on_the_shared_session(hub: Hub) -> None:
    tool = hub.tool("tb")
    before = (await counts(tool)).get("call:slow", 0)
    doomed = asyncio.create_task(tool.call("slow", seconds=30))
    survivor = asyncio.create_task(tool.call("slow", seconds=0.5))
    while (await counts(tool)).get("call:slow", 0) < before + 2:  # both are on the server
        await asyncio.sleep(0.01)
    doomed.cancel()
    with pytest.raises(asyncio.CancelledError):
        await doomed
    assert (await survivor).text == "done"


async def test_concurrent_calls_share_one_server(hub: Hub) -> None:
    tool = hub.tool("tb")
    results = await asyncio.gather(*(tool.call("whoami") for _ in range(8)))
    assert len({r.output["pid"] for r in results}) == 1


async def test_limiter_and_metrics_apply_to_mcp_calls(hub: Hub) -> None:
    tool = hub.tool("tb")
    before = hub.metrics().for_model("tb", None)
    await asyncio.gather(*(tool.call("slow", seconds=0.2) for _ in range(8)))
    with pytest.raises(InvalidRequestError):
        await tool.call("fail")
    row = hub.metrics().for_model("tb", None)
    assert row.succeeded - before.succeeded == 8
    assert row.errors.get("invalid_request", 0) - before.errors.get("invalid_request", 0) == 1
    assert row.limiter.throttled > before.limiter.throttled, "only four run at a time"
    assert row.limiter.wait_max >= 0.15
    assert row.latency.p50 is not None
