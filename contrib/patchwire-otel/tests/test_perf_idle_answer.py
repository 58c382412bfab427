"""Both per-call hooks answer from the plugin's idle state first (issue 19): enabled, its
content observer settled, no provider seen recording, and the global provider(s) still
unset. Invariant: the idle answer is the long way's answer, in every state the application
can put OpenTelemetry in (no SDK; a remote parent or baggage in its context; the exporter
switched off and on again; a meter provider set; a tracer provider set).

The long way is the same plugin with its idle state never kept. Each run is a fresh
interpreter: OpenTelemetry's global providers can be set only once per process, and this
directory's conftest sets them.
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
    from opentelemetry import baggage, context, metrics, trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
    from patchwire.config_table import Table
    from patchwire.config_values import Where
    from patchwire_otel.plugin import OtelPlugin

    class LongWay(OtelPlugin):
        @property
        def _idle(self):
            return None

        @_idle.setter
        def _idle(self, value):
            pass

    fast, slow = OtelPlugin(), LongWay()
    url = "http://127.0.0.1:9/"
    out = []

    def step(name):
        for _ in range(3):  # the first question settles, the next ones may take the fast way
            answers = [
                [plugin.patchwire_record_quiet(), plugin.patchwire_request_headers(url)]
                for plugin in (fast, slow)
            ]
            out.append([name, answers[0], answers[1], fast._idle is not None])

    def configure(enabled):
        table = Table({"enabled": enabled}, Where("<test>", "exporters.otel"))
        for plugin in (fast, slow):
            plugin.patchwire_configure_exporter("otel", table)

    step("no sdk")
    parent = SpanContext(0x1234, 0x5678, is_remote=True, trace_flags=TraceFlags(1))
    token = context.attach(trace.set_span_in_context(NonRecordingSpan(parent)))
    step("remote parent")
    context.detach(token)
    token = context.attach(baggage.set_baggage("team", "search"))
    step("baggage")
    context.detach(token)
    step("detached")
    configure(False)
    step("off")
    configure(True)
    step("on again")

    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider

    metrics.set_meter_provider(MeterProvider())
    step("meter")
    token = context.attach(trace.set_span_in_context(NonRecordingSpan(parent)))
    step("meter, remote parent")
    context.detach(token)
    trace.set_tracer_provider(TracerProvider())
    step("tracer")
    print(json.dumps(out))
    """
)


def test_the_idle_answer_is_the_long_ways() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    steps = json.loads(done.stdout)
    for name, fast, slow, _ in steps:
        assert fast == slow, name
    idle = {name: used for name, _, _, used in steps}
    by_name = {name: fast for name, fast, _, _ in steps}
    # The fast way was taken where it applies, and not where a provider records.
    assert idle["no sdk"] and idle["detached"] and idle["on again"]
    assert not idle["off"] and not idle["meter"] and not idle["tracer"]
    assert by_name["no sdk"] == [True, None]
    assert by_name["remote parent"] == [True, {"traceparent": f"00-{0x1234:032x}-{0x5678:016x}-01"}]
    assert by_name["baggage"] == [True, {"baggage": "team=search"}]
    assert by_name["off"] == [True, None]
    assert by_name["meter"] == [False, None]
