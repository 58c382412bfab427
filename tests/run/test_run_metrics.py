"""The hub's metrics count tool loops: runs (and the failed among them), their model calls
and the tool calls they ran, per connector:model, in the snapshot, its JSON and the table;
on the fake connector and the virtual clock."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire import Completion, ToolCall
from patchwire.errors import AuthError
from patchwire.events import Event, EventKind
from patchwire.hub import Hub
from patchwire.metrics import MetricsAggregator
from patchwire.metrics.table import render_table
from patchwire.testing import FakeScript
from patchwire.types import ToolResult, Usage

CONFIG: dict[str, Any] = {
    "connectors": {
        "llm": {"type": "fake", "retry": {"max_attempts": 1}},
        "tools": {"type": "fake", "retry": {"max_attempts": 1}},
    }
}


def asks(count: int) -> Completion:
    parts = tuple(ToolCall(f"c{i}", "tools_echo", {"i": i}) for i in range(count))
    return Completion(text="", parts=parts, finish_reason="tool_calls", usage=Usage(10, 5))


def answer() -> Completion:
    return Completion(text="done", finish_reason="stop", usage=Usage(10, 5))


async def test_runs_their_steps_and_tool_calls_are_counted_per_model(
    plugin_host: Any, virtual_clock: Any, fake_scripts: dict[str, FakeScript]
) -> None:
    llm = fake_scripts.setdefault("llm", FakeScript())
    tools = fake_scripts.setdefault("tools", FakeScript())
    # Run 1: two calls, then one, then the answer. Run 2: one call whose tool fails auth.
    llm.push(asks(2), asks(1), answer(), asks(1))
    tools.push(*(ToolResult(output={}, text="ok") for _ in range(3)), AuthError("revoked"))
    async with Hub.from_dict(CONFIG, host=plugin_host, clock=virtual_clock, seed=1) as hub:
        hub._dead_letter = lambda failure: None
        model = hub.model("llm:m")
        await model.run("go", tools=[hub.tool("tools")])
        with pytest.raises(AuthError):
            await model.run("again", tools=[hub.tool("tools")])
        snapshot = hub.metrics()
        usage = model.usage()
    row = snapshot.for_model("llm", "m")
    assert (row.runs, row.runs_failed, row.run_steps, row.run_tool_calls) == (2, 1, 3, 4)
    assert row.tool_calls_per_run == 2.0
    assert usage.runs == 2 and usage.run_tool_calls == 4
    assert row.to_dict()["tool_calls_per_run"] == 2.0 and row.to_dict()["runs"] == 2
    table = render_table(snapshot)
    lines = table.splitlines()
    header = next(x for x in lines if "calls" in x.split())
    line = next(x for x in lines if x.startswith("llm:m"))
    columns = header.split()
    assert "runs" in columns and "tl/run" in columns
    assert "2.0" in line.split()


_RUNS = st.lists(
    st.tuples(st.integers(0, 20), st.integers(0, 50), st.booleans()), min_size=0, max_size=30
)


@given(runs=_RUNS)
@settings(max_examples=60, deadline=None)
def test_run_counts_are_the_sums_of_the_runs_reported_and_never_count_a_bad_number(
    runs: list[tuple[int, int, bool]],
) -> None:
    class Clock:
        def now(self) -> float:
            return 0.0

    aggregator = MetricsAggregator(Clock())  # type: ignore[arg-type]
    for steps, calls, failed in runs:
        aggregator(
            Event(
                EventKind.RUN_FINISHED,
                "llm",
                "m",
                operation="run",
                category="auth" if failed else None,
                data={"steps": steps, "tool_calls": calls},
            )
        )
    # Malformed counts (another sink's or a plugin's event) are ignored, never summed.
    aggregator(Event(EventKind.RUN_FINISHED, "llm", "m", data={"steps": -3, "tool_calls": "many"}))
    row = aggregator.snapshot().for_model("llm", "m")
    assert row.runs == len(runs) + 1
    assert row.runs_failed == sum(failed for _, _, failed in runs)
    assert row.run_steps == sum(steps for steps, _, _ in runs)
    assert row.run_tool_calls == sum(calls for _, calls, _ in runs)
