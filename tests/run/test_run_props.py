"""Properties of the tool loop on the virtual clock (the bounds of ``patchwire.run``'s
docstring): a run never exceeds max_steps, its tool-call budget or its deadline, and no
model call starts once its token budget is spent."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from patchwire import Completion, ToolCall
from patchwire.clock import VirtualClock
from patchwire.errors import PatchwireError, TransientError
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.run import Run, RunBudgetError, RunDeadlineError
from patchwire.testing import Delay, FakeConnector, FakeScript
from patchwire.testing.fake import FakePlugin
from patchwire.types import ToolResult, Usage

PROPS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
HOST = PluginHost(load_entry_points=False)
HOST.register(FakePlugin(), "fake")

# One model turn: how many calls it asks for (0: it answers), its tokens, its latency.
turn = st.tuples(st.integers(0, 3), st.integers(1, 60), st.sampled_from([0.0, 0.5, 3.0]))
# One tool call's outcome: a result after a delay, or a failure the model gets back.
tool_outcome = st.sampled_from(
    [
        ToolResult(text="ok"),
        Delay(1.0, ToolResult(text="slow")),
        Delay(7.0, ToolResult(text="slower")),
        TransientError("flaky"),
    ]
)


def reply_for(calls: int, tokens: int, delay: float, step: int) -> Any:
    parts = tuple(ToolCall(f"s{step}c{i}", "tools_echo", {"i": i}) for i in range(calls))
    reply = Completion(
        text="" if calls else "answer",
        parts=parts,
        finish_reason="tool_calls" if calls else "stop",
        usage=Usage(tokens, 0),
    )
    return Delay(delay, reply) if delay else reply


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


@PROPS
@given(
    turns=st.lists(turn, min_size=1, max_size=8),
    outcomes=st.lists(tool_outcome, max_size=20),
    max_steps=st.integers(1, 6),
    max_tool_calls=optional(st.integers(1, 8)),
    max_tokens=optional(st.integers(1, 200)),
    max_cost=optional(st.sampled_from([0.5, 20.0, 90.0])),
    timeout=optional(st.sampled_from([0.5, 2.0, 5.0, 12.0, 40.0])),
)
async def test_a_run_never_exceeds_max_steps_its_budgets_or_its_deadline(
    turns, outcomes, max_steps, max_tool_calls, max_tokens, max_cost, timeout
) -> None:
    clock = VirtualClock()
    llm = FakeScript().extend(reply_for(*t, step) for step, t in enumerate(turns))
    llm.default = reply_for(0, 1, 0.0, 99)
    tools = FakeScript().extend(outcomes)
    tools.default = ToolResult(text="ok")
    FakeConnector.scripts.update({"llm": llm, "tools": tools})
    config = {
        "connectors": {
            "llm": {
                "type": "fake",
                "retry": {"max_attempts": 1},
                "timeout": 100,
                # a dollar per input token, so a turn's cost is its token count
                "prices": {"m": {"input": 1_000_000, "output": 0}},
            },
            "tools": {"type": "fake", "retry": {"max_attempts": 1}, "timeout": 100},
        }
    }
    async with Hub.from_dict(config, host=HOST, clock=clock, seed=3) as hub:
        try:
            result: Any = await hub.model("llm:m").run(
                "go",
                tools=[hub.tool("tools")],
                max_steps=max_steps,
                max_tool_calls=max_tool_calls,
                max_tokens=max_tokens,
                max_cost=max_cost,
                timeout=timeout,
            )
        except PatchwireError as err:
            result = err
    assert isinstance(result, Run | RunBudgetError | RunDeadlineError), result
    assert len(llm.calls) <= max_steps
    if max_tool_calls is not None:
        assert len(tools.calls) <= max_tool_calls
    if timeout is not None:
        assert clock.now() <= timeout + 1e-9
    if max_tokens is not None:
        tokens = [t[1] for t in turns] + [1]  # the default turn counts 1
        spent_before_last = sum(tokens[: len(llm.calls) - 1])
        assert spent_before_last < max_tokens
    if max_cost is not None:
        tokens = [t[1] for t in turns] + [1]
        assert sum(tokens[: len(llm.calls) - 1]) < max_cost
    if isinstance(result, Run):
        assert len(result.steps) == len(llm.calls)
        assert not result.completion.tool_calls
