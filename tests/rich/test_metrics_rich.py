"""Metrics of rich calls (issue 15 item 7): tool calls returned and replies that failed
validation (the structured output, or a tool call's arguments), per connector:model, in
the aggregator, the snapshot's JSON, combined rows and the table.

Fake connector and virtual clock, except the streamed count, which goes through the
OpenAI simulator on loopback to see the assembled calls of a real stream.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from patchwire import Hub, OutputValidationError, ToolArgumentsError, ToolCall
from patchwire.clock import VirtualClock
from patchwire.errors import IntegrationError
from patchwire.events import Event, EventKind
from patchwire.metrics import MetricsAggregator, MetricsSnapshot
from patchwire.plugins import default_host
from patchwire.testing import FakeScript
from patchwire.testing.simulator import Simulator
from patchwire.types import Completion, Usage

SCHEMA = {
    "type": "object",
    "properties": {"n": {"type": "integer"}},
    "required": ["n"],
    "additionalProperties": False,
}


def lookup(q: str) -> str:
    """Look something up."""
    return q


def with_calls(*names: str) -> Completion:
    calls = tuple(ToolCall(f"c{i}", name, {"q": "x"}, '{"q":"x"}') for i, name in enumerate(names))
    return Completion(
        text="", usage=Usage(10, 5), model="m", finish_reason="tool_calls", parts=calls
    )


def cell(table: str, label: str) -> dict[str, str]:
    """The ``label`` column of every row of a rendered table, by row name."""
    header, *lines = table.splitlines()[1:]
    end = header.index(f"  {label}") + len(f"  {label}")  # cells are right-aligned
    width = len(label)
    return {
        line.split()[0]: line[end - width : end].strip()
        for line in lines
        if line and not line.startswith(("cost unknown", "sink failures"))
    }


async def test_tool_calls_returned_are_counted_per_model_cached_or_not(
    plugin_host, virtual_clock, fake_scripts
):
    fake_scripts["fake"] = FakeScript(default="plain text").push(
        with_calls("lookup", "lookup"), with_calls("lookup")
    )
    async with Hub.from_dict({}, host=plugin_host, clock=virtual_clock) as hub:
        first = await hub.model("fake:a").complete("q", tools=[lookup], cache=True)
        again = await hub.model("fake:a").complete("q", tools=[lookup], cache=True)
        other = await hub.model("fake:b").complete("q2", tools=[lookup])
        await hub.model("fake:b").complete("no tools")
        snapshot = hub.metrics()
    assert len(first.tool_calls) == 2 and again.cached and len(other.tool_calls) == 1
    # The cached reply handed the application its two calls too.
    assert snapshot.for_model("fake", "a").tool_calls == 4
    assert snapshot.for_model("fake", "b").tool_calls == 1

    exported = json.loads(json.dumps(snapshot.to_dict()))
    rows = {row["model"]: row for row in exported["connectors"]}
    assert rows["a"]["tool_calls"] == 4 and rows["b"]["tool_calls"] == 1
    assert MetricsSnapshot.from_dict(exported).for_model("fake", "a").tool_calls == 4
    assert MetricsSnapshot.combine([snapshot]).tool_calls == 5
    assert cell(snapshot.render_table(), "tools") == {"fake:a": "4", "fake:b": "1"}


async def test_a_reply_that_breaks_its_schema_counts_as_invalid_even_when_repair_saves_the_call(
    plugin_host, virtual_clock, fake_scripts
):
    # One bad reply repaired (the default single repair), then two bad replies: the call fails.
    fake_scripts["fake"] = FakeScript().push('{"n": "one"}', '{"n": 1}', "nope", "still nope")
    async with Hub.from_dict({}, host=plugin_host, clock=virtual_clock) as hub:
        model = hub.model("fake:m")
        assert (await model.complete("count", output=SCHEMA)).parsed == {"n": 1}
        with pytest.raises(OutputValidationError):
            await model.complete("again", output=SCHEMA)
        snapshot = hub.metrics()
    row = snapshot.for_model("fake", "m")
    assert dict(row.invalid_outputs) == {"output": 3}
    assert row.attempt_errors["integration"] == 3 and row.failed == 1 and row.succeeded == 1
    exported = json.loads(json.dumps(snapshot.to_dict()))
    assert exported["connectors"][0]["invalid_outputs"] == {"output": 3}
    assert cell(snapshot.render_table(), "invalid") == {"fake:m": "3"}


async def test_tool_arguments_that_do_not_parse_count_apart_from_other_integration_errors(
    plugin_host, virtual_clock, fake_scripts
):
    # What a connector raises when a call's argument text is not a JSON object.
    broken = ToolArgumentsError("the arguments of the call to tool 'lookup' are not JSON", "{q:")
    fake_scripts["fake"] = FakeScript().push(broken, "answer")
    async with Hub.from_dict({}, host=plugin_host, clock=virtual_clock) as hub:
        with pytest.raises(IntegrationError):
            await hub.model("fake:x").complete("q", tools=[lookup])
        await hub.model("fake:y").complete("q", tools=[lookup])
        snapshot = hub.metrics()
    assert dict(snapshot.for_model("fake", "x").invalid_outputs) == {"tool_arguments": 1}
    assert dict(snapshot.for_model("fake", "y").invalid_outputs) == {}
    combined = MetricsSnapshot.combine([snapshot])
    assert dict(combined.invalid_outputs) == {"tool_arguments": 1}


@pytest.mark.integration  # the OpenAI simulator on loopback streams real delta events
async def test_a_streamed_turn_counts_the_calls_assembled_on_its_final_chunk() -> None:
    if "openai" not in default_host().registries.simulators:
        pytest.skip("patchwire-openai is not installed")
    os.environ.setdefault("RICH_SIM_KEY", "sk-rich-not-real")

    def other(city: str) -> str:
        """Another tool."""
        return city

    async with Simulator("openai", seed=3) as sim:
        config = {
            "connectors": {
                "openai": {"base_url": sim.base_url, "api_key": "env:RICH_SIM_KEY"},
            }
        }
        async with Hub.from_dict(config) as hub:
            chunks = [
                c async for c in hub.model("openai:gpt-4o-mini").stream("q", tools=[lookup, other])
            ]
            snapshot = hub.metrics()
    assert len(chunks[-1].tool_calls) == 2  # the simulator's parallel call
    assert snapshot.for_model("openai", "gpt-4o-mini").tool_calls == 2


KINDS = st.sampled_from(["output", "tool_arguments", "bogus", None])


@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("ok"), st.sampled_from(["a", "b"]), st.integers(0, 4), st.booleans()),
            st.tuples(st.just("bad"), st.sampled_from(["a", "b"]), KINDS, st.booleans()),
        ),
        max_size=40,
    )
)
def test_counts_equal_the_calls_returned_and_the_known_invalid_marks_whatever_the_order(
    steps: list[tuple[str, str, Any, bool]],
) -> None:
    """Invariant: per model, ``tool_calls`` is the sum of the calls returned and
    ``invalid_outputs`` counts each known mark once (unknown marks never add a key); the
    JSON round trip and the combined row keep both."""
    clock = VirtualClock()
    metrics = MetricsAggregator(clock)
    calls: dict[str, int] = {}
    invalid: dict[str, dict[str, int]] = {}
    for step, model, value, cached in steps:
        if step == "ok":
            data = {"tool_calls": value} if value else {}
            metrics(Event(EventKind.CALL_SUCCEEDED, "c", model, cached=cached, data=data))
            calls[model] = calls.get(model, 0) + value
        else:
            data = {"invalid": value} if value is not None else {}
            metrics(Event(EventKind.ATTEMPT_FAILED, "c", model, category="integration", data=data))
            if value in ("output", "tool_arguments"):
                counts = invalid.setdefault(model, {})
                counts[value] = counts.get(value, 0) + 1
        clock.advance(0.7)  # crosses time slots, so folding slots is exercised too
    snapshot = MetricsSnapshot.from_dict(json.loads(json.dumps(metrics.snapshot().to_dict())))
    for model in ("a", "b"):
        row = snapshot.for_model("c", model)
        assert row.tool_calls == calls.get(model, 0)
        assert dict(row.invalid_outputs) == invalid.get(model, {})
    whole = MetricsSnapshot.combine([metrics.snapshot()], connector="c")
    assert whole.tool_calls == sum(calls.values())
    assert sum(whole.invalid_outputs.values()) == sum(sum(v.values()) for v in invalid.values())
