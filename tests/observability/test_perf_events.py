"""A call's start and success reach the built-in sinks as fields (issue 19).

While the bus holds only the built-in metrics aggregator and log sink, the recorder hands
them those two events as fields and builds no Event. These tests hold that shortcut to
what the Events did: the same metrics and log records for the same calls as a hub whose
bus also holds another sink (which turns the shortcut off and gets every Event, with the
data it always had), and the bus's own rules for when the shortcut applies.
"""

from __future__ import annotations

import logging
import pickle
from typing import Any

import attrs
import pytest
from patchwire.clock import VirtualClock
from patchwire.errors import TransientError
from patchwire.events import Event, EventBus, EventKind, call_event
from patchwire.hub import Hub
from patchwire.logsink import CALLS_LOGGER, LoggingSink
from patchwire.metrics import MetricsAggregator, MetricsSnapshot
from patchwire.parts import ToolCall
from patchwire.plugins import PluginHost
from patchwire.principals import Principal
from patchwire.testing import FakeScript
from patchwire.types import Completion, Usage

CONFIG: dict[str, Any] = {
    "connectors": {
        "fake": {"cache": {"ttl": 60}},
        "other": {"type": "fake"},
    },
    "principals": {"tags": ["team"]},
    "prices": {"fake:priced": {"input": 1.0, "output": 2.0, "cached_input": 0.5}},
}

ALICE = Principal("alice", tags={"team": "search", "undeclared": "x"})


def _with_tool_call(request: Any, attempt: Any) -> Completion:
    return Completion(
        text="",
        usage=Usage(input_tokens=40, output_tokens=2, cached_input_tokens=30),
        model=request.model,
        finish_reason="tool_calls",
        parts=(ToolCall("call-1", "lookup", {"q": "x"}),),
        raw={"id": "chatcmpl-7"},
    )


async def _calls(hub: Hub, scripts: dict[str, FakeScript]) -> None:
    """Calls whose success events differ in every field the metrics read."""
    scripts["fake"].push(TransientError("flaky"), "ok")  # one retry, then a reply
    priced, unpriced = hub.model("fake:priced"), hub.model("fake:m")
    await priced.complete("retried")
    await priced.complete("for alice", principal=ALICE)
    await unpriced.complete("unknown price", principal=Principal("bob"))
    await priced.complete("cached", temperature=0)
    await priced.complete("cached", temperature=0)  # served from the cache
    scripts["fake"].push(_with_tool_call)
    await priced.complete("tools", principal=ALICE)
    async for _ in hub.model("other:s").stream("streamed"):
        pass
    await hub.model("other:e").embed_many(["a", "bc"])
    await hub.tool("other").call("echo", x=1)
    await hub.tool("other").list()


async def _run(
    host: PluginHost, scripts: dict[str, FakeScript], extra_sink: bool
) -> tuple[MetricsSnapshot, list[Event], bool]:
    scripts["fake"] = FakeScript(default="ok")
    scripts["other"] = FakeScript(default="ok")
    seen: list[Event] = []
    async with Hub.from_dict(CONFIG, host=host, clock=VirtualClock(0.0), seed=1) as hub:
        if extra_sink:
            hub.bus.add("test", seen.append)
        fields_only = hub.bus.fields_only
        await _calls(hub, scripts)
        snapshot = hub.metrics()
    return snapshot, seen, fields_only


async def test_metrics_and_logs_are_the_same_with_fields_as_with_events(
    plugin_host: PluginHost,
    fake_scripts: dict[str, FakeScript],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger=CALLS_LOGGER)
    fast, _, fast_fields = await _run(plugin_host, fake_scripts, extra_sink=False)
    fast_logs = [(r.getMessage(), r.levelno, r.patchwire) for r in caplog.records]  # type: ignore[attr-defined]
    caplog.clear()
    slow, events, slow_fields = await _run(plugin_host, fake_scripts, extra_sink=True)
    slow_logs = [(r.getMessage(), r.levelno, r.patchwire) for r in caplog.records]  # type: ignore[attr-defined]
    assert fast_fields and not slow_fields
    assert fast.connectors == slow.connectors
    assert fast.principals == slow.principals
    assert fast_logs == slow_logs and len(fast_logs) >= 9
    # The rows did see what the calls did, so the comparison above compares something.
    row = fast.for_model("fake", "priced")
    assert (row.started, row.succeeded, row.tool_calls) == (5, 5, 1)
    assert row.retries.succeeded_after_retry == 1 and row.cache.hits == 1
    assert row.cost > 0 and row.cache_savings > 0
    assert fast.for_model("fake", "m").cost_unknown == 1
    assert fast.principals is not None and set(fast.principals.by_principal) == {"alice", "bob"}
    assert set(fast.principals.by_tag["team"]) == {"search"}
    # Another sink gets every Event, with the data it always carried.
    kinds = [e.kind for e in events]
    assert kinds.count(EventKind.CALL_STARTED) == kinds.count(EventKind.CALL_SUCCEEDED) >= 10
    started = next(e for e in events if e.kind is EventKind.CALL_STARTED and e.data)
    assert started.data["connector_type"] == "fake"
    tools = [e for e in events if e.kind is EventKind.CALL_SUCCEEDED and e.data.get("tool_calls")]
    (tool_reply,) = tools
    assert tool_reply.data["principal"] == "alice"
    assert tool_reply.data["tags"] == {"team": "search"}
    assert tool_reply.data["response_id"] == "chatcmpl-7"
    assert tool_reply.data["finish_reasons"] == ("tool_calls",)
    assert tool_reply.data["cache_savings"] > 0


def test_a_call_event_is_the_event_of_its_fields_in_every_way() -> None:
    fields = ("c", "m", 1.5, 7, "embed", 0.25, 2, 3, 4, 0.01, True)
    built = call_event(EventKind.CALL_SUCCEEDED, fields, {"k": 1})
    plain = Event(
        EventKind.CALL_SUCCEEDED,
        "c",
        "m",
        time=1.5,
        call_id=7,
        operation="embed",
        duration=0.25,
        retries=2,
        input_tokens=3,
        output_tokens=4,
        cost=0.01,
        cached=True,
        data={"k": 1},
    )
    assert type(built) is Event
    assert built == plain and repr(built) == repr(plain)
    assert attrs.asdict(built) == attrs.asdict(plain)  # reads every field: none is unset
    assert pickle.loads(pickle.dumps(built)) == plain
    assert attrs.evolve(built, cost=2.0) == attrs.evolve(plain, cost=2.0)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        built.cost = 1.0  # type: ignore[misc]


def test_fields_only_while_every_sink_is_an_exact_built_in() -> None:
    clock = VirtualClock(0.0)
    bus = EventBus()
    assert bus.fields_only
    bus.add("metrics", MetricsAggregator(clock))
    bus.add("logging", LoggingSink())
    assert bus.fields_only
    bus.add("plugin", lambda event: None)
    assert not bus.fields_only
    bus.remove("plugin")
    assert bus.fields_only

    class Counting(MetricsAggregator):  # may override __call__: it gets Events
        pass

    bus.add("subclass", Counting(clock))
    assert not bus.fields_only


class _BrokenClock(VirtualClock):
    def now(self) -> float:
        raise RuntimeError("broken")


def test_a_sink_that_raises_on_fields_is_counted_and_the_others_still_run() -> None:
    bus = EventBus()
    broken, working = MetricsAggregator(VirtualClock(0.0)), MetricsAggregator(VirtualClock(0.0))
    bus.add("broken", broken)
    bus.add("working", working)
    broken._clock = _BrokenClock(0.0)
    bus.call_started("c", "m")
    bus.call_succeeded(("c", "m", 0.0, 1, "complete", 0.5, 0, 3, 4, 0.01, False, 0.0, 0, (), {}))
    assert bus.sink_failures == {"broken": 2}
    row = working.snapshot().for_model("c", "m")
    assert (row.started, row.succeeded, row.input_tokens, row.cost) == (1, 1, 3, 0.01)
