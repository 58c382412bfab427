"""Tool loops on each provider's simulator with the real web, CLI and MCP connectors.

Integration: real HTTP on loopback, real subprocesses (python programs and the reference
MCP server ``mcp-server-time``), real time (the tool processes run on it).
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import pytest
from patchwire.errors import AuthError
from patchwire.output import OutputValidationError
from patchwire.run import RunDeadlineError
from patchwire.testing.sim_steps import StepScript

from .conftest import PROVIDERS, SLEEPER_MARK, WINDOW_MODELS, RunHub, has_time_server

pytestmark = [pytest.mark.integration, pytest.mark.parametrize("provider", PROVIDERS)]

needs_time = pytest.mark.skipif(not has_time_server, reason="pip install mcp-server-time")

#: the structured answer the repair tests ask for
FORECAST = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "high": {"type": "integer"}},
    "required": ["city", "high"],
    "additionalProperties": False,
}


def sleepers() -> list[int]:
    """Pids of the test's sleeper programs still alive (not zombies)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if SLEEPER_MARK.encode() not in f.read():
                    continue
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                    found.append(int(pid))
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found


def client_tasks(before: set[asyncio.Task[Any]]) -> list[asyncio.Task[Any]]:
    """Tasks started since ``before`` and still running, the test servers' own aside
    (the simulator's and the site's connection handlers live as long as the connection)."""
    return [
        t
        for t in asyncio.all_tasks() - before
        if not t.done() and "aiohttp/web_protocol" not in t.get_coro().cr_code.co_filename  # type: ignore[union-attr]
    ]


def long_history() -> list[dict[str, Any]]:
    """A system message and eight question/answer turns, then the question to answer."""
    history: list[dict[str, Any]] = [{"role": "system", "content": "be brief"}]
    for i in range(8):
        history.append({"role": "user", "content": f"question {i}: " + "detail " * 40})
        history.append({"role": "assistant", "content": f"answer {i}"})
    history.append({"role": "user", "content": "and finally?"})
    return history


@needs_time
async def test_a_multi_step_run_with_parallel_calls_across_web_cli_and_mcp(
    provider: str, run_hub: RunHub
) -> None:
    script = StepScript(
        [
            [("time_get_current_time", {"timezone": "Europe/Paris"})],
            [("web_weather", {"city": "Paris"}), ("cli_upper", {"text": "paris"})],
        ]
    )
    async with run_hub(provider, simulator={"tool_script": script}) as (hub, _):
        tools = [hub.tool("web"), hub.tool("cli"), hub.tool("time")]
        run = await hub.model("llm:m1").run("Weather in Paris, now?", tools=tools, timeout=60)
    assert [len(s.tools) for s in run.steps] == [1, 2, 0]
    assert run.completion.text and not run.completion.tool_calls
    second = {o.call.name: o for o in run.steps[1].tools}
    assert not any(o.result.is_error for s in run.steps for o in s.tools)
    assert '"sky": "clear"' in second["web_weather"].result.text.replace('":"', '": "')
    assert second["cli_upper"].result.text.strip() == "PARIS"
    assert "Europe/Paris" in run.steps[0].tools[0].result.text
    assert run.usage.total_tokens == sum(s.usage.total_tokens for s in run.steps)


async def test_one_step_script_follows_concurrent_runs_by_their_tool_rounds(
    provider: str, run_hub: RunHub
) -> None:
    # The wire says each request's turn (tool_rounds), so conversations of different sizes
    # interleaving on one simulator each follow the script from its first step.
    script = StepScript([["cli_upper"], ["cli_upper", "cli_upper"]])
    async with run_hub(provider, simulator={"tool_script": script}) as (hub, _):
        model = hub.model("llm:m1")
        runs = await asyncio.gather(
            *(
                model.run(f"conversation {n}: " + "word " * (n * 30), tools=[hub.tool("cli")])
                for n in range(3)
            )
        )
    assert [[len(s.tools) for s in run.steps] for run in runs] == [[1, 2, 0]] * 3
    assert sorted(turn for turn, _ in script.seen) == [0, 0, 0, 1, 1, 1, 2, 2, 2]


async def test_a_tool_that_times_out_is_an_error_the_model_answers_after(
    provider: str, run_hub: RunHub
) -> None:
    script = StepScript([[("cli_sleep", {"seconds": "20"})]])
    async with run_hub(provider, simulator={"tool_script": script}) as (hub, _):
        run = await hub.model("llm:m1").run("wait", tools=[hub.tool("cli")], timeout=60)
    outcome = run.steps[0].tools[0]
    assert outcome.result.is_error and outcome.category == "degraded"
    assert run.completion.text and len(run.steps) == 2
    assert sleepers() == []


async def test_an_auth_failure_on_a_tool_stops_the_run_and_escalates(
    provider: str, run_hub: RunHub
) -> None:
    script = StepScript([["web_secret"]])
    escalated: list[Any] = []
    async with run_hub(provider, simulator={"tool_script": script}) as (hub, sim):
        hub._dead_letter = escalated.append
        with pytest.raises(AuthError):
            await hub.model("llm:m1").run("read it", tools=[hub.tool("web")], timeout=60)
        assert len(sim.journal) == 1  # the model was not asked again
    assert [(f.connector, f.category) for f in escalated] == [("web", "auth")]


async def test_the_run_deadline_passing_mid_tool_leaves_no_process(
    provider: str, run_hub: RunHub
) -> None:
    script = StepScript([[("cli_nap", {"seconds": "60"}), ("cli_nap", {"seconds": "61"})]])
    async with run_hub(provider, simulator={"tool_script": script}) as (hub, _):
        started = time.monotonic()
        with pytest.raises(RunDeadlineError):
            await hub.model("llm:m1").run("nap", tools=[hub.tool("cli")], timeout=2)
        assert time.monotonic() - started < 15  # the deadline, then the kill grace
    assert sleepers() == []


async def test_cancelling_a_run_leaves_no_process_or_task(provider: str, run_hub: RunHub) -> None:
    script = StepScript([[("cli_nap", {"seconds": "60"})]])
    async with run_hub(provider, simulator={"tool_script": script}) as (hub, _):
        before = asyncio.all_tasks()
        task = asyncio.ensure_future(
            hub.model("llm:m1").run("nap", tools=[hub.tool("cli")], timeout=60)
        )
        while not sleepers():
            await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert client_tasks(before) == []
    assert sleepers() == []


async def test_a_context_overflow_is_recovered_by_fallback(provider: str, run_hub: RunHub) -> None:
    # No window in the configuration: the connector states its models' windows, and the
    # error the simulator sends (the provider's own) states the one it enforced.
    small, large = WINDOW_MODELS[provider]
    async with run_hub(
        provider,
        simulator={"context_windows": {small: 60}},
        routes={"chat": {"targets": [f"llm:{small}", f"llm:{large}"]}},
    ) as (hub, sim):
        reply = await hub.model("chat").complete("tell me " + "more " * 200)
    assert reply.transforms == ("fallback",) and reply.model.startswith(large)
    assert [r.status for r in sim.journal] == [400, 200]


async def test_a_context_overflow_is_recovered_by_trimming(provider: str, run_hub: RunHub) -> None:
    small, _ = WINDOW_MODELS[provider]
    history = long_history()
    async with run_hub(provider, simulator={"context_windows": {small: 400}}) as (hub, sim):
        reply = await hub.model(f"llm:{small}").complete(history)
    assert reply.transforms == ("trim",)
    assert [r.status for r in sim.journal] == [400, 200]


async def test_a_stream_that_overflows_is_trimmed_before_its_first_chunk(
    provider: str, run_hub: RunHub
) -> None:
    small, _ = WINDOW_MODELS[provider]
    history = long_history()
    async with run_hub(provider, simulator={"context_windows": {small: 400}}) as (hub, sim):
        chunks = [c async for c in hub.model(f"llm:{small}").stream(history)]
    assert chunks[0].transforms == ("trim",)
    assert all(c.transforms == () for c in chunks[1:])
    assert "".join(c.text for c in chunks)
    assert [r.status for r in sim.journal] == [400, 200]


async def test_a_stream_that_overflows_falls_back_before_its_first_chunk(
    provider: str, run_hub: RunHub
) -> None:
    small, large = WINDOW_MODELS[provider]
    async with run_hub(
        provider,
        simulator={"context_windows": {small: 60}},
        routes={"chat": {"targets": [f"llm:{small}", f"llm:{large}"]}},
    ) as (hub, sim):
        chunks = [c async for c in hub.model("chat").stream("tell me " + "more " * 200)]
        row = hub.metrics().for_model("llm", large)
    assert chunks[0].transforms == ("fallback",)
    assert [r.status for r in sim.journal] == [400, 200]
    assert row.succeeded == 1  # the stream is billed and counted on the target that answered


async def test_a_streamed_answer_that_breaks_its_schema_is_not_repaired(
    provider: str, run_hub: RunHub
) -> None:
    # The text reached the caller before the parse at the end, so no repair is tried.
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    }
    async with run_hub(provider, simulator={"break_schema": 1}) as (hub, sim):
        with pytest.raises(OutputValidationError):
            async for _ in hub.model("llm:m1").stream("forecast", output=schema):
                pass
    assert len(sim.journal) == 1


async def test_a_multi_step_run_with_history_fits_after_trimming(
    provider: str, run_hub: RunHub
) -> None:
    # The tool calls and results count against the window (the wire counts them), so a
    # later turn overflows; trimming keeps each call with its result and the run answers.
    small, _ = WINDOW_MODELS[provider]
    script = StepScript([[("cli_upper", {"text": "x" * 400})]])
    async with run_hub(
        provider, simulator={"tool_script": script, "context_windows": {small: 300}}
    ) as (hub, sim):
        run = await hub.model(f"llm:{small}").run(
            "first " * 100, tools=[hub.tool("cli")], timeout=60
        )
    assert run.completion.text and not run.completion.tool_calls
    assert 400 in [r.status for r in sim.journal]
    assert any("trim" in s.reply.transforms for s in run.steps)


@needs_time
async def test_a_run_step_that_overflows_continues_on_the_larger_target_by_fallback(
    provider: str, run_hub: RunHub
) -> None:
    # The first step fits the small model's window; the CLI result it asked for does not,
    # so each later step overflows there and the route's larger target takes it, tool
    # calls (the MCP server's) included, until the answer.
    small, large = WINDOW_MODELS[provider]
    script = StepScript(
        [
            [("cli_upper", {"text": "paris " * 60})],
            [("time_get_current_time", {"timezone": "Europe/Paris"})],
        ]
    )
    async with run_hub(
        provider,
        simulator={"tool_script": script, "context_windows": {small: 150}},
        routes={"chat": {"targets": [f"llm:{small}", f"llm:{large}"]}},
    ) as (hub, sim):
        run = await hub.model("chat").run(
            "Weather in Paris, now?", tools=[hub.tool("cli"), hub.tool("time")], timeout=60
        )
        metrics = hub.metrics()
    answered_by = [(s.reply.model.startswith(large), s.reply.transforms) for s in run.steps]
    assert answered_by == [(False, ()), (True, ("fallback",)), (True, ("fallback",))]
    assert run.completion.text and not run.completion.tool_calls
    assert run.completion.transforms == ("fallback",)
    assert [r.status for r in sim.journal] == [200, 400, 200, 400, 200]
    log = run.step_log().splitlines()
    assert [line.endswith("after fallback") for line in log if line.startswith("step")] == [
        False,
        True,
        True,
    ]
    outcomes = [o for s in run.steps for o in s.tools]
    assert [o.source for o in outcomes] == ["cli:upper", "time:get_current_time"]
    assert not any(o.result.is_error for o in outcomes)
    assert outcomes[0].result.text.strip() == ("PARIS " * 60).strip()
    assert "Europe/Paris" in outcomes[1].result.text
    # Counted on the target that overflowed, once per step it sent on.
    assert hub.transforms.counts == {("llm", "fallback"): 2}
    assert metrics.for_model("llm", small).transforms == 2
    assert metrics.for_model("llm", small).run_steps == 3
    assert metrics.for_model("llm", large).calls_by_operation == {"complete": 2}
    # The tool calls went through the hub's pipeline and were counted there.
    assert metrics.for_model("cli", None).calls_by_operation["tool:upper"] == 1
    assert metrics.for_model("time", None).calls_by_operation["tool:get_current_time"] == 1


async def test_a_run_whose_structured_answer_breaks_its_schema_is_repaired(
    provider: str, run_hub: RunHub
) -> None:
    # output= goes to every model call of the run; the steps that ask for tools carry no
    # answer to check, and the answer that breaks the schema is sent back once to repair.
    script = StepScript([[("web_weather", {"city": "Paris"}), ("cli_upper", {"text": "paris"})]])
    async with run_hub(provider, simulator={"tool_script": script, "break_schema": 1}) as (
        hub,
        sim,
    ):
        run = await hub.model("llm:m1").run(
            "forecast", tools=[hub.tool("web"), hub.tool("cli")], output=FORECAST, timeout=60
        )
        metrics = hub.metrics()
    assert [(len(s.tools), s.reply.transforms) for s in run.steps] == [(2, ()), (0, ("repair",))]
    assert run.completion.transforms == ("repair",)
    assert set(run.completion.parsed) == {"city", "high"}
    assert [r.status for r in sim.journal] == [200, 200, 200]  # the step, the break, the repair
    assert run.step_log().splitlines()[-1].endswith("after repair")
    outcomes = {o.source: o for o in run.steps[0].tools}
    assert set(outcomes) == {"web:weather", "cli:upper"}
    assert not any(o.result.is_error for o in outcomes.values())
    assert outcomes["cli:upper"].result.text.strip() == "PARIS"
    assert hub.transforms.counts == {("llm", "repair"): 1}
    assert metrics.for_model("llm", "m1").transforms == 1
    assert metrics.for_model("web", None).calls_by_operation["tool:weather"] == 1
    assert metrics.for_model("cli", None).calls_by_operation["tool:upper"] == 1


async def test_a_reply_that_breaks_its_schema_is_repaired(provider: str, run_hub: RunHub) -> None:
    async with run_hub(provider, simulator={"break_schema": 1}) as (hub, sim):
        reply = await hub.model("llm:m1").complete("forecast", output=FORECAST)
    assert reply.transforms == ("repair",)
    assert set(reply.parsed) == {"city", "high"}
    assert len(sim.journal) == 2
