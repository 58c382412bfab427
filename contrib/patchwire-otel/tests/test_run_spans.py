"""A tool loop (``model.run``) is one ``invoke_agent`` span, and the model calls and hub
tool calls it makes are its children (issue 17 item 2). A hub on the virtual clock with
the test kit's fake connector playing both the model and the tool."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode
from patchwire import Completion, ToolCall
from patchwire.clock import VirtualClock
from patchwire.errors import AuthError
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.testing import FakeScript
from patchwire.types import ToolResult, Usage

Telemetry = Any
CONFIG: dict[str, Any] = {
    "connectors": {
        "llm": {"type": "fake", "retry": {"max_attempts": 1}, "cache": {"ttl": 0}},
        "tools": {"type": "fake", "retry": {"max_attempts": 1}, "cache": {"ttl": 0}},
    }
}


def asks(count: int) -> Completion:
    parts = tuple(ToolCall(f"c{i}", "tools_echo", {"i": i}) for i in range(count))
    return Completion(text="", parts=parts, finish_reason="tool_calls", usage=Usage(10, 5))


def answer() -> Completion:
    return Completion(text="done", finish_reason="stop", usage=Usage(10, 5))


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def own_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return span.context.span_id


def named(spans: Sequence[ReadableSpan], prefix: str) -> list[ReadableSpan]:
    return sorted((s for s in spans if s.name.startswith(prefix)), key=lambda s: s.start_time or 0)


async def test_a_runs_model_and_tool_calls_nest_under_its_invoke_agent_span(
    otel_host: PluginHost,
    telemetry: Telemetry,
    virtual_clock: VirtualClock,
    fake_scripts: dict[str, FakeScript],
) -> None:
    llm = fake_scripts.setdefault("llm", FakeScript())
    tools = fake_scripts.setdefault("tools", FakeScript())
    llm.push(asks(2), answer())
    tools.push(*(ToolResult(output={}, text="ok") for _ in range(2)))
    app = trace.get_tracer("the-application")
    async with Hub.from_dict(CONFIG, host=otel_host, clock=virtual_clock, seed=1) as hub:
        with app.start_as_current_span("handle request") as request_span:
            done = await hub.model("llm:m").run("go", tools=[hub.tool("tools")])
            after = await hub.model("llm:m").complete("outside the run")
    assert done.completion.text == "done" and after.text
    spans = telemetry.spans.get_finished_spans()
    (run,) = named(spans, "invoke_agent")
    assert run.name == "invoke_agent m" and run.kind is SpanKind.INTERNAL
    assert parent_of(run) == request_span.get_span_context().span_id
    attributes = dict(run.attributes or {})
    assert attributes["gen_ai.operation.name"] == "invoke_agent"
    assert attributes["gen_ai.request.model"] == "m"
    assert attributes["patchwire.run.steps"] == 2
    assert attributes["patchwire.run.tool_calls"] == 2
    chats = named(spans, "chat m")
    tool_spans = named(spans, "execute_tool")
    # Both model calls and both tool calls of the loop are the run's children; the call
    # made after the run is the application's again.
    assert [parent_of(s) for s in chats[:2]] == [own_id(run)] * 2
    assert len(tool_spans) == 2 and {parent_of(s) for s in tool_spans} == {own_id(run)}
    assert parent_of(chats[2]) == request_span.get_span_context().span_id
    # The run spans its calls.
    assert run.start_time is not None and run.end_time is not None
    assert all(run.start_time <= s.start_time <= run.end_time for s in (*chats[:2], *tool_spans))  # type: ignore[operator]


async def test_a_failed_run_ends_its_span_with_the_error_category(
    otel_host: PluginHost,
    telemetry: Telemetry,
    virtual_clock: VirtualClock,
    fake_scripts: dict[str, FakeScript],
) -> None:
    fake_scripts.setdefault("llm", FakeScript()).push(asks(1))
    fake_scripts.setdefault("tools", FakeScript()).push(AuthError("revoked"))
    async with Hub.from_dict(CONFIG, host=otel_host, clock=virtual_clock, seed=1) as hub:
        hub._dead_letter = lambda failure: None  # type: ignore[assignment]
        with pytest.raises(AuthError):
            await hub.model("llm:m").run("go", tools=[hub.tool("tools")])
    (run,) = named(telemetry.spans.get_finished_spans(), "invoke_agent")
    assert run.status.status_code is StatusCode.ERROR
    assert dict(run.attributes or {})["error.type"] == "auth"
