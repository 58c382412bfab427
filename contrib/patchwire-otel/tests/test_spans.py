"""Calls through a hub become GenAI spans and metrics on the global providers.

The hub runs on the virtual clock with the test kit's fake connector, so span durations
are exactly the virtual seconds the pipeline spent.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from importlib import metadata
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode
from patchwire.clock import VirtualClock
from patchwire.errors import DegradedError, InvalidRequestError, PatchwireError, TransientError
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.testing import FakeScript
from patchwire.testing.fake import Delay
from patchwire_otel.plugin import SWITCH_ENV, OtelPlugin, plugin

# The conftest fixture's value: the in-memory span exporter and metric reader.
Telemetry = Any

SECRET_PROMPT = "the application's private prompt 7f3a"


def by_name(spans: Sequence[ReadableSpan], name: str) -> ReadableSpan:
    (found,) = [span for span in spans if span.name == name]
    return found


def children(spans: Sequence[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    assert parent.context is not None
    found = [
        s for s in spans if s.parent is not None and s.parent.span_id == parent.context.span_id
    ]
    return sorted(found, key=lambda s: s.start_time or 0)


def seconds(span: ReadableSpan) -> float:
    assert span.start_time is not None and span.end_time is not None
    return (span.end_time - span.start_time) / 1e9


def points(telemetry: Telemetry, name: str, **attributes: Any) -> list[Any]:
    data = telemetry.metrics.get_metrics_data()
    assert data is not None
    out = []
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name != name:
                    continue
                for point in metric.data.data_points:
                    if all(point.attributes.get(k) == v for k, v in attributes.items()):
                        out.append(point)
    return out


def route_config() -> dict[str, Any]:
    retry = {"max_attempts": 3, "initial": 0.5, "cap": 0.5, "deadline": 60}
    return {
        "connectors": {
            "primary": {"type": "fake", "retry": retry, "cache": {"ttl": 0}},
            "backup": {"type": "fake", "retry": retry, "cache": {"ttl": 0}},
        },
        "routes": {"chat": {"targets": ["primary:model-a", "backup:model-b"]}},
    }


async def test_a_call_that_retried_and_fell_back_is_one_span_with_attempt_children(
    otel_host: PluginHost,
    telemetry: Telemetry,
    virtual_clock: VirtualClock,
    fake_scripts: dict[str, FakeScript],
) -> None:
    fake_scripts["primary"] = FakeScript().push(
        Delay(0.25, TransientError("boom")), Delay(0.5, DegradedError("overloaded"))
    )
    fake_scripts["backup"] = FakeScript(default=Delay(1.0, "fine"))
    app_tracer = trace.get_tracer("the-application")
    async with Hub.from_dict(route_config(), host=otel_host, clock=virtual_clock) as hub:
        with app_tracer.start_as_current_span("handle request") as app_span:
            reply = await hub.model("chat").complete(SECRET_PROMPT)
    assert reply.text == "fine"

    spans = telemetry.spans.get_finished_spans()
    call = by_name(spans, "chat model-a")
    # The call nests under the application's current span.
    assert call.parent is not None and call.parent.span_id == app_span.get_span_context().span_id
    assert call.kind is SpanKind.CLIENT
    attributes = dict(call.attributes or {})
    assert attributes["gen_ai.operation.name"] == "chat"
    # The provider is the connector's type (both connectors are of type "fake").
    assert attributes["gen_ai.provider.name"] == "fake"
    assert attributes["gen_ai.request.model"] == "model-a"
    # What answered: the fallback's model, and how its reply ended.
    assert attributes["gen_ai.response.model"] == "model-b"
    assert attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert attributes["gen_ai.usage.input_tokens"] == 10
    assert attributes["gen_ai.usage.output_tokens"] == 5
    assert attributes["patchwire.target"] == "backup:model-b"
    assert call.status.status_code is not StatusCode.ERROR
    # The span lasts what the hub measured: 0.25 s failing, the retry's jittered wait,
    # 0.5 s failing, then 1 s on the backup.
    assert seconds(call) == pytest.approx(reply.latency, abs=1e-6)
    assert 1.75 <= reply.latency <= 2.25

    attempts = children(spans, call)
    assert [
        a.attributes["error.type"] if a.attributes and "error.type" in a.attributes else None
        for a in attempts
    ] == [
        "transient",
        "degraded",
        None,
    ]
    assert [a.name for a in attempts] == [
        "attempt 1 primary:model-a",
        "attempt 2 primary:model-a",
        "attempt 3 backup:model-b",
    ]
    assert [a.status.status_code for a in attempts][:2] == [StatusCode.ERROR, StatusCode.ERROR]
    assert [round(seconds(a), 6) for a in attempts] == [0.25, 0.5, 1.0]

    events: dict[str, dict[str, Any]] = {
        event.name: dict(event.attributes or {}) for event in call.events
    }
    assert events["patchwire.retry"]["error.type"] == "transient"
    assert 0.0 <= events["patchwire.retry"]["patchwire.retry.delay_s"] <= 0.5
    assert events["patchwire.fallback"]["patchwire.fallback.from"] == "primary:model-a"
    assert events["patchwire.fallback"]["patchwire.fallback.to"] == "backup:model-b"

    (duration,) = points(
        telemetry, "gen_ai.client.operation.duration", **{"gen_ai.request.model": "model-a"}
    )
    assert duration.count == 1 and duration.sum == pytest.approx(reply.latency)
    (tokens_in,) = points(
        telemetry,
        "gen_ai.client.token.usage",
        **{"gen_ai.request.model": "model-a", "gen_ai.token.type": "input"},
    )
    assert tokens_in.sum == 10

    # Content is never recorded: events carry none.
    for span in spans:
        for value in (span.attributes or {}).values():
            assert SECRET_PROMPT not in str(value)


async def test_a_failed_call_has_error_type_on_span_and_duration(
    otel_host: PluginHost,
    telemetry: Telemetry,
    virtual_clock: VirtualClock,
    fake_scripts: dict[str, FakeScript],
) -> None:
    fake_scripts["fake"] = FakeScript().push(InvalidRequestError("no"))
    async with Hub.from_dict({}, host=otel_host, clock=virtual_clock) as hub:
        with pytest.raises(PatchwireError):
            await hub.model("fake:model-fail").complete("hi")
    call = by_name(telemetry.spans.get_finished_spans(), "chat model-fail")
    assert call.status.status_code is StatusCode.ERROR
    assert (call.attributes or {})["error.type"] == "invalid_request"
    (point,) = points(
        telemetry,
        "gen_ai.client.operation.duration",
        **{"gen_ai.request.model": "model-fail", "error.type": "invalid_request"},
    )
    assert point.count == 1
    assert (
        points(telemetry, "gen_ai.client.token.usage", **{"gen_ai.request.model": "model-fail"})
        == []
    )


async def test_streams_and_embeddings_get_their_operation_names(
    otel_host: PluginHost,
    telemetry: Telemetry,
    virtual_clock: VirtualClock,
    fake_scripts: dict[str, FakeScript],
) -> None:
    fake_scripts["fake"] = FakeScript(default="streamed")
    async with Hub.from_dict({}, host=otel_host, clock=virtual_clock) as hub:
        async for _ in hub.model("fake:model-s").stream("hi"):
            pass
        await hub.model("fake:model-e").embed("text")
    spans = telemetry.spans.get_finished_spans()
    stream = by_name(spans, "chat model-s")
    assert (stream.attributes or {})["gen_ai.request.stream"] is True
    embed = by_name(spans, "embeddings model-e")
    assert (embed.attributes or {})["gen_ai.operation.name"] == "embeddings"


async def test_tool_calls_are_execute_tool_spans(
    otel_host: PluginHost,
    telemetry: Telemetry,
    virtual_clock: VirtualClock,
    fake_scripts: dict[str, FakeScript],
) -> None:
    fake_scripts["fake"] = FakeScript(default="tool output")
    async with Hub.from_dict({}, host=otel_host, clock=virtual_clock) as hub:
        await hub.tool("fake").call("search", q="x")
    span = by_name(telemetry.spans.get_finished_spans(), "execute_tool search")
    assert span.kind is SpanKind.INTERNAL
    assert (span.attributes or {})["gen_ai.tool.name"] == "search"
    assert (span.attributes or {})["gen_ai.operation.name"] == "execute_tool"


async def test_the_switch_turns_recording_off(
    plugin_host: PluginHost,
    telemetry: Telemetry,
    virtual_clock: VirtualClock,
    fake_scripts: dict[str, FakeScript],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(SWITCH_ENV, "off")
    plugin_host.register(OtelPlugin(), "otel-off")
    try:
        async with Hub.from_dict({}, host=plugin_host, clock=virtual_clock) as hub:
            await hub.model("fake:model-off").complete("hi")
    finally:
        plugin_host.unregister("otel-off")
    assert telemetry.spans.get_finished_spans() == ()


def test_the_entry_point_names_the_plugin_object() -> None:
    (entry,) = [e for e in metadata.entry_points(group="patchwire") if e.name == "otel"]
    assert entry.dist is not None and entry.dist.name == "patchwire-otel"
    assert entry.load() is plugin


@pytest.mark.integration  # a fresh interpreter, to see what importing the entry point loads
def test_the_entry_point_module_does_not_import_opentelemetry() -> None:
    probe = (
        "import sys, patchwire_otel.plugin;"
        " print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


async def test_a_cached_reply_has_no_attempt_and_adds_no_tokens(
    otel_host: PluginHost,
    telemetry: Telemetry,
    virtual_clock: VirtualClock,
    fake_scripts: dict[str, FakeScript],
) -> None:
    fake_scripts["fake"] = FakeScript(default="same answer")
    config = {"connectors": {"fake": {"cache": {"ttl": 60}}}}
    async with Hub.from_dict(config, host=otel_host, clock=virtual_clock) as hub:
        first = await hub.model("fake:model-c").complete("hi", temperature=0)
        second = await hub.model("fake:model-c").complete("hi", temperature=0)
    assert not first.cached and second.cached
    spans = telemetry.spans.get_finished_spans()
    calls = [s for s in spans if s.name == "chat model-c"]
    assert len(calls) == 2
    fresh, cached = sorted(calls, key=lambda s: s.start_time or 0)
    assert len(children(spans, fresh)) == 1 and children(spans, cached) == []
    assert (cached.attributes or {})["patchwire.cache_hit"] is True
    assert "gen_ai.usage.input_tokens" not in (cached.attributes or {})
    (tokens_in,) = points(
        telemetry,
        "gen_ai.client.token.usage",
        **{"gen_ai.request.model": "model-c", "gen_ai.token.type": "input"},
    )
    assert tokens_in.count == 1  # the cached reply billed nothing


def test_calls_whose_end_never_comes_are_ended_when_room_is_needed(telemetry: Telemetry) -> None:
    """At most ``max_open`` calls are tracked, so a lost end event cannot grow memory."""
    from patchwire.events import Event, EventKind
    from patchwire_otel.recorder import CallRecorder

    recorder = CallRecorder(max_open=2)
    for call_id in (1, 2, 3):
        recorder(Event(EventKind.CALL_STARTED, "fake", "model-lost", time=0.0, call_id=call_id))
    (ended,) = telemetry.spans.get_finished_spans()
    assert ended.status.status_code is StatusCode.ERROR
    assert ended.status.description == "no end event"
    recorder(
        Event(EventKind.CALL_SUCCEEDED, "fake", "model-lost", time=1.0, call_id=3, duration=1.0)
    )
    assert len(telemetry.spans.get_finished_spans()) == 3  # call 3's span and its attempt
