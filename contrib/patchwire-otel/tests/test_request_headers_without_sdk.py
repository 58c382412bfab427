"""With no OpenTelemetry SDK configured, the plugin costs nothing per call (issue 19): its
event sink builds no recorder, and its ``patchwire_request_headers`` hook returns None
without running a propagator. Context the application holds is still passed on, and an
SDK configured later is followed from the next event.

Each case runs in a fresh interpreter: OpenTelemetry's global providers can be set only
once per process, and this directory's conftest sets them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.integration  # a real subprocess (a process without an SDK)

SCRIPT = textwrap.dedent(
    """
    import json
    from opentelemetry import context, propagate, trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
    from patchwire.events import Event, EventKind
    from patchwire_otel.plugin import OtelPlugin

    injected = []
    real_inject = propagate.inject

    def counting_inject(*args, **kwargs):
        injected.append(1)
        return real_inject(*args, **kwargs)

    propagate.inject = counting_inject
    import patchwire_otel.recorder as recorder_module
    recorder_module.propagate.inject = counting_inject
    out = {}
    plugin = OtelPlugin()
    url = "http://127.0.0.1:9/"

    def call(call_id, succeed=True):
        plugin.patchwire_record(Event(EventKind.CALL_STARTED, "c", "m", call_id=call_id))
        headers = plugin.patchwire_request_headers(url)
        if succeed:
            plugin.patchwire_record(Event(EventKind.CALL_SUCCEEDED, "c", "m", call_id=call_id))
        return headers

    out["no_sdk"] = [call(i) for i in range(1, 101)]
    out["recorder_built"] = plugin._recorder is not None
    out["injected"] = len(injected)

    # An incoming request's context (a remote parent) is passed on without an SDK too.
    parent = SpanContext(0x1234, 0x5678, is_remote=True, trace_flags=TraceFlags(1))
    token = context.attach(trace.set_span_in_context(NonRecordingSpan(parent)))
    out["remote_parent"] = call(101)
    context.detach(token)

    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    out["with_sdk"] = call(102)
    out["spans"] = [
        [f"{span.context.trace_id:032x}", f"{span.context.span_id:016x}"]
        for span in exporter.get_finished_spans()
    ]
    print(json.dumps(out))
    """
)


def test_without_an_sdk_the_hook_runs_no_propagator_and_an_sdk_set_later_is_followed() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["no_sdk"] == [None] * 100
    assert out["recorder_built"] is False
    assert out["injected"] == 0
    assert out["remote_parent"] == {"traceparent": f"00-{0x1234:032x}-{0x5678:016x}-01"}
    # The request made during call 102 carries one of that call's spans (its call or its
    # attempt span): the SDK set after 101 calls is followed from the next event on.
    assert out["spans"], "the call after the SDK was set recorded no span"
    assert out["with_sdk"]["traceparent"].split("-")[1:3] in out["spans"]


HUB_SCRIPT = textwrap.dedent(
    """
    import json
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from patchwire.hub import Hub

    hub = Hub()  # the installed plugins, the otel one among them
    out = {"sinks": hub.bus.sink_names, "no_sdk": hub.bus.fields_only}
    trace.set_tracer_provider(TracerProvider())
    out["with_sdk"] = hub.bus.fields_only
    print(json.dumps(out))
    """
)


def test_without_an_sdk_the_hub_builds_no_call_events_for_the_plugin() -> None:
    """The plugin says it is quiet (patchwire_record_quiet) while no provider records, so a
    hub builds no start or success Event for it; once an SDK is set, it gets them again."""
    done = subprocess.run(
        [sys.executable, "-c", HUB_SCRIPT], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert any("otel" in name for name in out["sinks"]), out["sinks"]
    assert out["no_sdk"] is True
    assert out["with_sdk"] is False
