"""Spans and metrics built from one hub's call-lifecycle events.

A logical call is one span, opened at ``call_started`` in the caller's context (so it nests
under the application's current span) and ended at ``call_succeeded``/``call_failed``. Each
attempt that failed is a child span ending at its ``attempt_failed`` event with the error
category as ``error.type``; the attempt that answered is a child span ending at success.
An attempt starts when the call starts, after a retry's wait, after a fallback, or after a
wait in the rate limiter. Retries, fallbacks, limiter waits and cache hits are events on the
call's span. ``gen_ai.client.operation.duration`` and ``gen_ai.client.token.usage`` are
recorded when the call ends.

Times are the hub clock's: each call is anchored to the wall clock when it starts and every
later event is placed by its hub-clock offset from that, so span durations equal the
durations patchwire measured. Events carry no prompt or reply content; when the
application opted in (``record_content``), the plugin registers this recorder as a
``patchwire.content`` observer and the messages go on the call's span as
``gen_ai.input.messages`` and ``gen_ai.output.messages``.

Outgoing HTTP requests carry the W3C trace context of the call they belong to
(``request_headers``, through ``patchwire_request_headers``), so a traced server's spans
nest under the call's span; a request outside a call carries the current context's.

Open calls are keyed by ``call_id``; at most ``max_open`` are tracked (a call whose end
event never comes is ended, marked as such, when the oldest must make room).
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from typing import Any

import attrs
from opentelemetry import metrics, propagate, trace
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.semconv._incubating.metrics import gen_ai_metrics
from opentelemetry.semconv.attributes import error_attributes
from opentelemetry.trace import Span, Status, StatusCode
from patchwire.events import Event, EventKind
from patchwire.parts import Text, ToolCall, ToolResultPart
from patchwire.types import Completion, Message

from patchwire_otel.conventions import (
    DURATION_BOUNDARIES,
    TOKEN_BOUNDARIES,
    Operation,
    operation,
    provider_name,
)
from patchwire_otel.cost import CostCounters

__all__ = ["INSTRUMENTATION_NAME", "CallRecorder"]

INSTRUMENTATION_NAME = "patchwire_otel"
_OPS = gen_ai.GenAiOperationNameValues
_VERSION = "0.1.0"
ERROR_TYPE = error_attributes.ERROR_TYPE

# The call the current task is making: set when its call_started event is emitted (in the
# caller's task, before any request), so its requests carry the call span's trace context.
_CURRENT_CALL: ContextVar[int | None] = ContextVar("patchwire_otel_call", default=None)
# The tool loop (model.run) the current task is in: its run_started event is emitted in
# the task that runs the loop, and tasks it starts for tool calls inherit the variable, so
# the loop's model and tool calls become children of the run's span.
_CURRENT_RUN: ContextVar[_Run | None] = ContextVar("patchwire_otel_run", default=None)


@attrs.define
class _Run:
    span: Span
    anchor_wall_ns: int
    anchor_time: float
    parent: _Run | None
    open: bool = True

    def wall(self, hub_time: float) -> int:
        return self.anchor_wall_ns + round((hub_time - self.anchor_time) * 1e9)


@attrs.define
class _Call:
    span: Span
    operation: Operation
    attributes: dict[str, Any]
    anchor_wall_ns: int
    anchor_time: float
    attempt_start: float
    attempts: int = 0
    # The prompt, written on the span when the call ends: by then the hub has loaded the
    # credentials its attempts sent, so the redactor knows them.
    prompt: tuple[Sequence[Message], Callable[[str], str]] | None = None

    def wall(self, hub_time: float) -> int:
        return self.anchor_wall_ns + round((hub_time - self.anchor_time) * 1e9)


class CallRecorder:
    """An event sink: ``recorder(event)``. Uses the global tracer and meter providers."""

    def __init__(self, *, max_open: int = 10_000) -> None:
        self._tracer = trace.get_tracer(INSTRUMENTATION_NAME, _VERSION)
        meter = metrics.get_meter(INSTRUMENTATION_NAME, _VERSION)
        self._duration = meter.create_histogram(
            gen_ai_metrics.GEN_AI_CLIENT_OPERATION_DURATION,
            unit="s",
            description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=DURATION_BOUNDARIES,
        )
        self._tokens = meter.create_histogram(
            gen_ai_metrics.GEN_AI_CLIENT_TOKEN_USAGE,
            unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=TOKEN_BOUNDARIES,
        )
        #: patchwire.client.cost with the principal's declared tags (patchwire_otel.cost)
        self.cost = CostCounters(meter)
        self._open: OrderedDict[int, _Call] = OrderedDict()
        self._max_open = max_open
        # Connector name -> type, as the start and success events report it: the
        # conventions' provider name comes from the type (a connector named "work-gpt"
        # of type openai is "openai"). Bounded by the configured connectors.
        self._types: dict[str, str] = {}

    # --- content, only when the application opted in (patchwire.content) -------------------

    def prompt(
        self, call_id: int, messages: Sequence[Message], redact: Callable[[str], str]
    ) -> None:
        call = self._open.get(call_id)
        if call is not None:
            call.prompt = (messages, redact)

    def reply(self, call_id: int, reply: Completion, redact: Callable[[str], str]) -> None:
        call = self._open.get(call_id)
        if call is not None:
            text = _messages_json([reply.message], finish_reason=reply.finish_reason)
            call.span.set_attribute(gen_ai.GEN_AI_OUTPUT_MESSAGES, redact(text))

    def request_headers(self) -> dict[str, str] | None:
        """The trace-context headers for a request made now, by the current task."""
        call = self._open.get(_CURRENT_CALL.get() or -1)
        context = trace.set_span_in_context(call.span) if call is not None else None
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=context)
        return carrier or None

    def __call__(self, event: Event) -> None:
        kind = event.kind
        if kind is EventKind.CALL_STARTED:
            self._start(event)
            return
        if kind is EventKind.RUN_STARTED:
            self._run_started(event)
            return
        if kind is EventKind.RUN_FINISHED:
            self._run_finished(event)
            return
        call = self._open.get(event.call_id)
        if call is None:
            return  # connector-wide events, or a call started before the plugin loaded
        if kind is EventKind.ATTEMPT_FAILED:
            self._attempt(call, event, failed=True)
        elif kind is EventKind.RETRY_SCHEDULED:
            delay = event.duration or 0.0
            call.span.add_event(
                "patchwire.retry",
                {
                    "patchwire.attempt": event.attempt,
                    ERROR_TYPE: event.category or "_OTHER",
                    "patchwire.retry.delay_s": delay,
                },
                timestamp=call.wall(event.time),
            )
            call.attempt_start = event.time + delay
        elif kind is EventKind.FALLBACK_TAKEN:
            call.span.add_event(
                "patchwire.fallback",
                {
                    "patchwire.fallback.from": _target(event),
                    "patchwire.fallback.to": event.target or "",
                    ERROR_TYPE: event.category or "_OTHER",
                },
                timestamp=call.wall(event.time),
            )
            call.attempt_start = event.time
        elif kind is EventKind.THROTTLED:
            call.span.add_event(
                "patchwire.throttled",
                {"patchwire.wait_s": event.duration or 0.0},
                timestamp=call.wall(event.time),
            )
            call.attempt_start = event.time
        elif kind is EventKind.CACHE_HIT:
            call.span.set_attribute("patchwire.cache_hit", True)
        elif kind is EventKind.CALL_SUCCEEDED:
            self._succeeded(call, event)
        elif kind is EventKind.CALL_FAILED:
            self._failed(call, event)

    # --- the call's span -------------------------------------------------------------------

    def _provider(self, event: Event) -> str:
        ctype = event.data.get("connector_type")
        if isinstance(ctype, str) and ctype:
            self._types[event.connector] = ctype
        return provider_name(self._types.get(event.connector, event.connector))

    def _start(self, event: Event) -> None:
        op = operation(event.operation)
        attributes: dict[str, Any] = {
            gen_ai.GEN_AI_OPERATION_NAME: op.name,
            gen_ai.GEN_AI_PROVIDER_NAME: self._provider(event),
            "patchwire.connector": event.connector,
        }
        if event.model is not None:
            attributes[gen_ai.GEN_AI_REQUEST_MODEL] = event.model
        if op.stream:
            attributes[gen_ai.GEN_AI_REQUEST_STREAM] = True
        if op.tool is not None:
            attributes[gen_ai.GEN_AI_TOOL_NAME] = op.tool
        run = _CURRENT_RUN.get()
        if run is not None and not run.open:
            run = None
        # A call inside a run is placed on the run's time line, so the tree nests in time too.
        wall = time.time_ns() if run is None else run.wall(event.time)
        span = self._tracer.start_span(
            op.span_name(event.model, event.connector),
            # Inside a tool loop the run's span is the parent; else the application's span.
            context=trace.set_span_in_context(run.span) if run is not None else None,
            kind=op.kind,
            attributes=attributes,
            start_time=wall,
        )
        if len(self._open) >= self._max_open:
            _, oldest = self._open.popitem(last=False)
            oldest.span.set_status(Status(StatusCode.ERROR, "no end event"))
            oldest.span.end()
        _CURRENT_CALL.set(event.call_id)
        self._open[event.call_id] = _Call(
            span=span,
            operation=op,
            attributes=attributes,
            anchor_wall_ns=wall,
            anchor_time=event.time,
            attempt_start=event.time,
        )

    # --- the tool loop's span ----------------------------------------------------------------

    def _run_started(self, event: Event) -> None:
        attributes: dict[str, Any] = {
            gen_ai.GEN_AI_OPERATION_NAME: _OPS.INVOKE_AGENT.value,
            gen_ai.GEN_AI_PROVIDER_NAME: provider_name(
                self._types.get(event.connector, event.connector)
            ),
            "patchwire.connector": event.connector,
        }
        if event.model is not None:
            attributes[gen_ai.GEN_AI_REQUEST_MODEL] = event.model
        parent = _CURRENT_RUN.get()
        wall = time.time_ns()
        span = self._tracer.start_span(
            f"{_OPS.INVOKE_AGENT.value} {event.model or event.connector}",
            context=trace.set_span_in_context(parent.span)
            if parent is not None and parent.open
            else None,
            kind=trace.SpanKind.INTERNAL,
            attributes=attributes,
            start_time=wall,
        )
        _CURRENT_RUN.set(_Run(span, wall, event.time, parent))

    def _run_finished(self, event: Event) -> None:
        run = _CURRENT_RUN.get()
        if run is None or not run.open:
            return  # a run started before the plugin loaded
        run.open = False
        _CURRENT_RUN.set(run.parent)
        span = run.span
        for key in ("steps", "tool_calls"):
            value = event.data.get(key)
            if type(value) is int:
                span.set_attribute(f"patchwire.run.{key}", value)
        if event.category is not None:
            span.set_attribute(ERROR_TYPE, event.category)
            span.set_status(Status(StatusCode.ERROR, event.category))
        span.end(end_time=run.wall(event.time))

    def _attempt(self, call: _Call, event: Event, *, failed: bool) -> None:
        call.attempts += 1
        attributes: dict[str, Any] = {
            gen_ai.GEN_AI_OPERATION_NAME: call.operation.name,
            gen_ai.GEN_AI_PROVIDER_NAME: self._provider(event),
            "patchwire.connector": event.connector,
            # Numbered across the whole call (fallback targets continue the count).
            "patchwire.attempt": call.attempts,
        }
        if event.model is not None:
            attributes[gen_ai.GEN_AI_REQUEST_MODEL] = event.model
        if failed:
            attributes[ERROR_TYPE] = event.category or "_OTHER"
            if event.data.get("timeout") is True:
                attributes["patchwire.timeout"] = True
        span = self._tracer.start_span(
            f"attempt {attributes['patchwire.attempt']} {_target(event)}",
            context=trace.set_span_in_context(call.span),
            kind=call.operation.kind,
            attributes=attributes,
            start_time=call.wall(min(call.attempt_start, event.time)),
        )
        if failed:
            span.set_status(Status(StatusCode.ERROR, event.category or "failed"))
        span.end(end_time=call.wall(event.time))
        call.attempt_start = event.time

    @staticmethod
    def _write_prompt(call: _Call) -> None:
        if call.prompt is not None:
            messages, redact = call.prompt
            call.span.set_attribute(gen_ai.GEN_AI_INPUT_MESSAGES, redact(_messages_json(messages)))
            call.prompt = None

    def _succeeded(self, call: _Call, event: Event) -> None:
        self._close(event.call_id)
        self._write_prompt(call)
        span = call.span
        if event.cached:
            span.set_attribute("patchwire.cache_hit", True)
        else:
            self._attempt(call, event, failed=False)
        self._response(span, event)
        metric_attributes = self._metric_attributes(call, event)
        model = event.data.get("response_model")
        if isinstance(model, str) and model:
            metric_attributes[gen_ai.GEN_AI_RESPONSE_MODEL] = model
        if event.input_tokens is not None and not event.cached:
            span.set_attribute(gen_ai.GEN_AI_USAGE_INPUT_TOKENS, event.input_tokens)
            self._tokens.record(
                event.input_tokens, {**metric_attributes, gen_ai.GEN_AI_TOKEN_TYPE: "input"}
            )
        if event.output_tokens is not None and not event.cached:
            span.set_attribute(gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS, event.output_tokens)
            self._tokens.record(
                event.output_tokens, {**metric_attributes, gen_ai.GEN_AI_TOKEN_TYPE: "output"}
            )
        if event.cost is not None:
            span.set_attribute("patchwire.cost", event.cost)
        self.cost.record(event, metric_attributes)
        span.set_attribute("patchwire.retries", event.retries)
        span.set_attribute("patchwire.target", _target(event))
        if event.duration is not None:
            self._duration.record(event.duration, metric_attributes)
        span.end(end_time=call.wall(event.time))

    @staticmethod
    def _response(span: Span, event: Event) -> None:
        """The reply's model, finish reasons and id, from the success event's data."""
        data = event.data
        model = data.get("response_model")
        if isinstance(model, str) and model:
            span.set_attribute(gen_ai.GEN_AI_RESPONSE_MODEL, model)
        reasons = data.get("finish_reasons")
        if isinstance(reasons, tuple | list) and all(isinstance(r, str) for r in reasons):
            span.set_attribute(gen_ai.GEN_AI_RESPONSE_FINISH_REASONS, tuple(reasons))
        response_id = data.get("response_id")
        if isinstance(response_id, str) and response_id:
            span.set_attribute(gen_ai.GEN_AI_RESPONSE_ID, response_id)

    def _failed(self, call: _Call, event: Event) -> None:
        self._close(event.call_id)
        self._write_prompt(call)
        span = call.span
        category = event.category or "_OTHER"
        span.set_attribute(ERROR_TYPE, category)
        span.set_attribute("patchwire.retries", event.retries)
        span.set_status(Status(StatusCode.ERROR, category))
        if event.duration is not None:
            self._duration.record(
                event.duration, {**self._metric_attributes(call, event), ERROR_TYPE: category}
            )
        span.end(end_time=call.wall(event.time))

    def _close(self, call_id: int) -> None:
        del self._open[call_id]
        if _CURRENT_CALL.get() == call_id:
            _CURRENT_CALL.set(None)

    @staticmethod
    def _metric_attributes(call: _Call, event: Event) -> dict[str, Any]:
        # The call's request attributes; the tool name and connector stay on spans, so
        # metric series are bounded by operation, provider and model.
        keep = (
            gen_ai.GEN_AI_OPERATION_NAME,
            gen_ai.GEN_AI_PROVIDER_NAME,
            gen_ai.GEN_AI_REQUEST_MODEL,
        )
        return {key: call.attributes[key] for key in keep if key in call.attributes}


def _messages_json(messages: Sequence[Message], *, finish_reason: str | None = None) -> str:
    """Messages in the conventions' JSON shape (role and parts; text, tool calls and tool
    results; other parts, such as images, by type alone: no media bytes go on a span)."""
    out: list[dict[str, Any]] = []
    for message in messages:
        parts: list[dict[str, Any]] = []
        content = message.content
        for part in (Text(content),) if isinstance(content, str) else content:
            if isinstance(part, Text):
                parts.append({"type": "text", "content": part.text})
            elif isinstance(part, ToolCall):
                parts.append(
                    {"type": "tool_call", "id": part.id, "name": part.name,
                     "arguments": dict(part.arguments)}
                )  # fmt: skip
            elif isinstance(part, ToolResultPart):
                result = part.content if isinstance(part.content, str) else ""
                parts.append({"type": "tool_call_response", "id": part.call_id, "response": result})
            else:
                parts.append({"type": type(part).__name__.lower()})
        entry: dict[str, Any] = {"role": message.role, "parts": parts}
        if finish_reason is not None:
            entry["finish_reason"] = finish_reason
        out.append(entry)
    return json.dumps(out, ensure_ascii=False, default=str)


def _target(event: Event) -> str:
    return event.connector if event.model is None else f"{event.connector}:{event.model}"
