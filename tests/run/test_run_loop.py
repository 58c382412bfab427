"""The tool loop through a Hub, on the fake connector and the virtual clock: tool calls run
through the pipeline, failures go back to the model, auth stops the run, budgets and the
deadline end it, and cancelling it leaves no task behind."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from patchwire import Completion, ToolCall
from patchwire.errors import AuthError, TransientError
from patchwire.hub import Hub
from patchwire.run import RunBudgetError, RunDeadlineError
from patchwire.testing import FakeScript
from patchwire.testing.fake import Delay, Hang
from patchwire.types import ToolResult, Usage

CONFIG: dict[str, Any] = {
    "connectors": {
        "llm": {"type": "fake", "retry": {"max_attempts": 1}},
        "tools": {"type": "fake", "retry": {"max_attempts": 2, "initial": 0.1}},
    }
}


def asks(*calls: tuple[str, dict[str, Any]]) -> Completion:
    parts = tuple(ToolCall(f"c{i}", name, args) for i, (name, args) in enumerate(calls))
    return Completion(text="", parts=parts, finish_reason="tool_calls", usage=Usage(10, 5))


def answer(text: str = "done") -> Completion:
    return Completion(text=text, finish_reason="stop", usage=Usage(10, 5))


def double(n: int) -> int:
    """Twice n."""
    return 2 * n


@pytest.fixture
def scripts(fake_scripts: dict[str, FakeScript]) -> tuple[FakeScript, FakeScript]:
    return fake_scripts.setdefault("llm", FakeScript()), fake_scripts.setdefault(
        "tools", FakeScript()
    )


def leftover(before: set[asyncio.Task[Any]]) -> set[asyncio.Task[Any]]:
    """Tasks started since ``before`` still alive (the virtual clock's driver aside)."""
    return {t for t in asyncio.all_tasks() - before if t.get_name() != "patchwire-virtual-clock"}


def hub_for(plugin_host: Any, clock: Any) -> Hub:
    return Hub.from_dict(CONFIG, host=plugin_host, clock=clock, seed=1)


async def test_hub_tool_operations_and_functions_become_one_kind_of_tool_spec(
    plugin_host, virtual_clock, scripts
):
    async with hub_for(plugin_host, virtual_clock) as hub:
        bound = await hub.tool("tools").as_tools()
        assert [b.name for b in bound] == ["tools_echo"]
        assert bound[0].spec.description == "returns its arguments"
        assert bound[0].source == "tools:echo"
        llm, _ = scripts
        llm.push(answer())
        await hub.model("llm:m").complete("hi", tools=[hub.tool("tools"), double])
    sent = llm.calls[0].request.tools
    assert [s.name for s in sent] == ["tools_echo", "double"]
    assert sent[1].parameters["properties"] == {"n": {"type": "integer"}}


async def test_run_executes_parallel_calls_through_the_hub_then_answers(
    plugin_host, virtual_clock, scripts
):
    llm, tools = scripts
    llm.push(asks(("tools_echo", {"x": 1}), ("double", {"n": 21})), answer("42"))
    tools.push(Delay(2.0, ToolResult(output={"x": 1}, text="x=1")))
    async with hub_for(plugin_host, virtual_clock) as hub:
        run = await hub.model("llm:m").run("go", tools=[hub.tool("tools"), double])
    assert run.completion.text == "42"
    assert len(run.steps) == 2 and run.tool_calls == 2
    first = run.steps[0].tools
    assert [o.result.text for o in first] == ["x=1", "42"]
    assert [o.source for o in first] == ["tools:echo", "python:double"]
    assert run.usage.total_tokens == 30
    # the results went back to the model in call order, in one tool message
    last = llm.calls[1].request.messages[-1]
    assert last.role == "tool" and [p.call_id for p in last.content] == ["c0", "c1"]
    assert tools.calls[0].request.operation == "echo"


async def test_a_failed_tool_call_goes_back_to_the_model_as_an_error_result(
    plugin_host, virtual_clock, scripts
):
    llm, tools = scripts
    llm.push(asks(("tools_echo", {})), answer("recovered"))
    tools.push(TransientError("down"), TransientError("still down"))
    async with hub_for(plugin_host, virtual_clock) as hub:
        run = await hub.model("llm:m").run("go", tools=[hub.tool("tools")])
    outcome = run.steps[0].tools[0]
    assert outcome.result.is_error and outcome.category == "transient"
    assert "still down" in outcome.result.text
    assert len(tools.calls) == 2  # the tool's own retries ran
    assert run.completion.text == "recovered"


async def test_an_auth_failure_on_a_tool_stops_the_run_and_escalates(
    plugin_host, virtual_clock, scripts
):
    llm, tools = scripts
    llm.push(asks(("tools_echo", {})), answer())
    tools.push(AuthError("key revoked"))
    escalated: list[Any] = []
    async with hub_for(plugin_host, virtual_clock) as hub:
        hub._dead_letter = escalated.append
        with pytest.raises(AuthError):
            await hub.model("llm:m").run("go", tools=[hub.tool("tools")])
    assert len(llm.calls) == 1
    assert [f.category for f in escalated] == ["auth"]


async def test_the_run_deadline_passing_mid_tool_ends_it_with_nothing_left_running(
    plugin_host, virtual_clock, scripts
):
    llm, tools = scripts
    llm.push(asks(("tools_echo", {}), ("tools_echo", {"a": 1})), answer())
    tools.push(Hang(), Hang())
    async with hub_for(plugin_host, virtual_clock) as hub:
        before = asyncio.all_tasks()
        with pytest.raises(RunDeadlineError) as info:
            await hub.model("llm:m").run("go", tools=[hub.tool("tools")], timeout=5)
        assert virtual_clock.now() == pytest.approx(5.0)
        assert leftover(before) == set()
    assert info.value.steps == ()


async def test_max_steps_ends_a_run_whose_model_keeps_calling(plugin_host, virtual_clock, scripts):
    llm, _ = scripts
    llm.default = lambda request, attempt: asks(("double", {"n": 1}))
    async with hub_for(plugin_host, virtual_clock) as hub:
        with pytest.raises(RunBudgetError) as info:
            await hub.model("llm:m").run("go", tools=[double], max_steps=3)
    assert info.value.budget == "steps"
    assert len(llm.calls) == 3 and len(info.value.steps) == 2


async def test_approval_is_asked_before_a_marked_tool_runs(plugin_host, virtual_clock, scripts):
    llm, tools = scripts
    llm.push(asks(("tools_echo", {"rm": "-rf"})), answer())
    asked: list[ToolCall] = []

    async def approve(call: ToolCall) -> bool:
        asked.append(call)
        return False

    async with hub_for(plugin_host, virtual_clock) as hub:
        bound = await hub.tool("tools").as_tools(needs_approval=True)
        run = await hub.model("llm:m").run("go", tools=[bound], approve=approve)
        with pytest.raises(ValueError, match="approve="):
            await hub.model("llm:m").run("go", tools=[bound])
    assert [c.arguments for c in asked] == [{"rm": "-rf"}]
    assert run.steps[0].tools[0].category == "declined"
    assert tools.calls == []


async def test_run_stream_yields_each_event_as_it_happens(plugin_host, virtual_clock, scripts):
    llm, _ = scripts
    llm.push(asks(("double", {"n": 2})), answer())
    async with hub_for(plugin_host, virtual_clock) as hub:
        kinds = [e.kind async for e in hub.model("llm:m").run_stream("go", tools=[double])]
    assert kinds == [
        "step_started",
        "model_replied",
        "tool_started",
        "tool_finished",
        "step_started",
        "model_replied",
        "finished",
    ]


async def test_cancelling_a_run_cancels_its_tool_calls(plugin_host, virtual_clock, scripts):
    llm, tools = scripts
    llm.push(asks(("tools_echo", {}), ("tools_echo", {"b": 2})))
    tools.push(Hang(), Hang())
    async with hub_for(plugin_host, virtual_clock) as hub:
        before = asyncio.all_tasks()
        task = asyncio.create_task(hub.model("llm:m").run("go", tools=[hub.tool("tools")]))
        while len(tools.calls) < 2:
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert leftover(before) == set()


async def test_the_cost_budget_ends_a_run_before_another_model_call(
    plugin_host, virtual_clock, scripts
):
    llm, _ = scripts
    llm.default = lambda request, attempt: asks(("double", {"n": 1}))
    config = {
        "connectors": {
            "llm": {"type": "fake", "prices": {"m": {"input": 1_000_000, "output": 0}}},
        }
    }
    async with Hub.from_dict(config, host=plugin_host, clock=virtual_clock) as hub:
        with pytest.raises(RunBudgetError) as info:
            await hub.model("llm:m").run("go", tools=[double], max_cost=25.0)
    assert info.value.budget == "cost"
    assert len(llm.calls) == 3  # $10 a turn: the third crosses $25, no fourth starts


@pytest.mark.parametrize(("limit", "took"), [(None, 2.0), (1, 4.0)])
async def test_a_turns_calls_run_concurrently_within_the_tools_concurrency_limit(
    plugin_host, virtual_clock, fake_scripts, limit, took
):
    llm = fake_scripts.setdefault("llm", FakeScript())
    tools = fake_scripts.setdefault("tools", FakeScript())
    llm.push(asks(("tools_echo", {"a": 1}), ("tools_echo", {"b": 2})), answer())
    tools.push(Delay(2.0, ToolResult(text="a")), Delay(2.0, ToolResult(text="b")))
    table: dict[str, Any] = {"type": "fake"}
    if limit is not None:
        table["limits"] = {"max_concurrency": limit}
    config = {"connectors": {"llm": {"type": "fake"}, "tools": table}}
    async with Hub.from_dict(config, host=plugin_host, clock=virtual_clock) as hub:
        run = await hub.model("llm:m").run("go", tools=[hub.tool("tools")])
    assert run.steps[0].latency == pytest.approx(took)
    assert sorted(c.time for c in tools.calls) == ([0.0, 0.0] if limit is None else [0.0, 2.0])


async def test_an_approver_that_fails_declines_and_bad_stop_on_is_refused(
    plugin_host, virtual_clock, scripts
):
    llm, tools = scripts
    llm.push(asks(("tools_echo", {})), answer())

    async def broken(call: ToolCall) -> bool:
        raise RuntimeError("approver bug")

    async with hub_for(plugin_host, virtual_clock) as hub:
        bound = await hub.tool("tools").as_tools(needs_approval=True)
        run = await hub.model("llm:m").run("go", tools=[bound], approve=broken)
        with pytest.raises(ValueError, match="stop_on must hold error categories"):
            await hub.model("llm:m").run("go", tools=[double], stop_on=["fatal"])
    assert run.steps[0].tools[0].category == "declined" and tools.calls == []
