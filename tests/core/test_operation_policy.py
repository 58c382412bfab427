"""Per-operation timeouts and cache ttls (issue 14 item 9): how a tool operation states its
own, and ``cache_ttl=`` per call. Fake connector, virtual clock."""

from __future__ import annotations

from typing import Any

import pytest
from patchwire.errors import DegradedError, InvalidRequestError
from patchwire.hookspecs import hookimpl
from patchwire.hub import Hub
from patchwire.registry import ConnectorRegistrar
from patchwire.testing import Delay, FakeConnector, FakeScript
from patchwire.types import CompletionRequest, EmbeddingRequest, ToolRequest

Request = CompletionRequest | EmbeddingRequest | ToolRequest


class PerOperation(FakeConnector):
    """A tool whose ``slow`` operation may run 50 s and whose ``stable`` data lives a day."""

    type_name = "perop"

    def timeout_for(self, request: Request) -> float | None:
        if isinstance(request, ToolRequest) and request.operation == "slow":
            return 50.0
        return None

    def ttl_for(self, request: Request) -> float | None:
        if isinstance(request, ToolRequest) and request.operation == "stable":
            return 86_400.0
        return None


class PerOperationPlugin:
    PATCHWIRE_CONTRACT = "1.0"

    @hookimpl
    def patchwire_register_connectors(self, register: ConnectorRegistrar) -> None:
        register("perop", PerOperation)


CONFIG: dict[str, Any] = {
    "connectors": {"tool": {"type": "perop", "timeout": 5, "cache": {"ttl": 60}}}
}


@pytest.fixture
def host(plugin_host, register_plugin):
    register_plugin(PerOperationPlugin(), "perop")
    return plugin_host


async def test_an_operation_states_its_own_attempt_timeout(host, virtual_clock, fake_scripts):
    fake_scripts["tool"] = FakeScript(default=Delay(20.0, "done"))
    config = {
        "connectors": {"tool": {**CONFIG["connectors"]["tool"], "retry": {"max_attempts": 1}}}
    }
    async with Hub.from_dict(config, host=host, clock=virtual_clock) as hub:
        tool = hub.tool("tool")
        slow = await tool.call("slow", timeout=100)
        with pytest.raises(DegradedError, match="timed out after 5 s"):
            await tool.call("quick", timeout=100)
    assert slow.output == "done"


async def test_an_operation_states_its_own_cache_ttl(host, virtual_clock, fake_scripts):
    fake_scripts["tool"] = FakeScript(default="v")
    async with Hub.from_dict(CONFIG, host=host, clock=virtual_clock) as hub:
        tool = hub.tool("tool")
        await tool.call("stable", cache=True)
        await tool.call("volatile", cache=True)
        await virtual_clock.sleep(3600)
        stable = await tool.call("stable", cache=True)
        volatile = await tool.call("volatile", cache=True)
    assert stable.cached and not volatile.cached


async def test_cache_ttl_per_call_bounds_the_age_of_what_it_is_served(
    plugin_host, virtual_clock, fake_scripts
):
    fake_scripts["fake"] = FakeScript(default="answer")
    config = {"connectors": {"fake": {"cache": {"ttl": 3600}}}}
    async with Hub.from_dict(config, host=plugin_host, clock=virtual_clock) as hub:
        model = hub.model("fake:m")
        await model.complete("q", temperature=0)  # stored for an hour
        await virtual_clock.sleep(30)
        # A 10 s ttl is never answered by the 30 s old entry stored under the hour.
        fresh = await model.complete("q", temperature=0, cache_ttl=10)
        again = await model.complete("q", temperature=0, cache_ttl=10)
        await virtual_clock.sleep(11)
        expired = await model.complete("q", temperature=0, cache_ttl=10)
        hour = await model.complete("q", temperature=0)
        uncached = await model.complete("q", temperature=0, cache_ttl=0)
        embedded = await model.embed("e", cache_ttl=5)
        await virtual_clock.sleep(6)
        embedded_again = await model.embed("e", cache_ttl=5)
    assert not fresh.cached and again.cached and not expired.cached
    assert hour.cached and not uncached.cached
    assert not embedded.cached and not embedded_again.cached
    assert len([c for c in fake_scripts["fake"].calls if c.operation == "complete"]) == 4


async def test_tool_call_takes_cache_ttl(plugin_host, virtual_clock, fake_scripts):
    fake_scripts["fake"] = FakeScript(default="v")
    async with Hub.from_dict(
        {"connectors": {"fake": {}}}, host=plugin_host, clock=virtual_clock
    ) as hub:
        tool = hub.tool("fake")
        await tool.call("op", cache=True, cache_ttl=5)
        hit = await tool.call("op", cache=True, cache_ttl=5)
        await virtual_clock.sleep(6)
        miss = await tool.call("op", cache=True, cache_ttl=5)
    assert hit.cached and not miss.cached


@pytest.mark.parametrize("bad", [-1, float("inf"), float("nan"), "10", True])
async def test_a_bad_cache_ttl_is_refused_before_anything_is_sent(
    plugin_host, virtual_clock, fake_scripts, bad
):
    fake_scripts["fake"] = FakeScript(default="v")
    async with Hub.from_dict(
        {"connectors": {"fake": {}}}, host=plugin_host, clock=virtual_clock
    ) as hub:
        with pytest.raises(InvalidRequestError, match="cache_ttl"):
            await hub.model("fake:m").complete("q", cache_ttl=bad)
    assert fake_scripts["fake"].calls == []
