"""The providers' check reads OpenTelemetry's module globals as module attributes (issue 19)
and must answer as the public getters do: before any SDK, after a tracer provider is set,
after a meter provider is set, and with an application context holding a remote parent.

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
    from opentelemetry import context, metrics, trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
    from patchwire_otel.plugin import _Getter, _Providers

    def with_getters():
        providers = _Providers()
        providers.trace_state = _Getter("_TRACER_PROVIDER", trace.get_tracer_provider)
        providers.meter_state = _Getter("_METER_PROVIDER", metrics.get_meter_provider)
        return providers

    def answers(providers):
        return [providers.nothing_to_propagate(), providers.records(), providers.tracing,
                providers.metering]

    out = []
    fast, slow = _Providers(), with_getters()
    out.append(["none", answers(fast), answers(slow)])
    parent = SpanContext(0x1234, 0x5678, is_remote=True, trace_flags=TraceFlags(1))
    token = context.attach(trace.set_span_in_context(NonRecordingSpan(parent)))
    out.append(["remote parent", answers(fast), answers(slow)])
    context.detach(token)

    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider

    metrics.set_meter_provider(MeterProvider())
    out.append(["meter", answers(fast), answers(slow)])
    trace.set_tracer_provider(TracerProvider())
    out.append(["tracer", answers(fast), answers(slow)])
    fresh = _Providers()
    out.append(["fresh", answers(fresh), answers(with_getters())])
    out.append(["states", type(fast.trace_state).__name__, type(fast.meter_state).__name__])
    print(json.dumps(out))
    """
)


def test_the_globals_answer_as_the_getters_do() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    *steps, states = json.loads(done.stdout)
    assert states == ["states", "module", "module"]  # the globals are read, not the getters
    for name, fast, slow in steps:
        assert fast == slow, name
    by_name = {name: fast for name, fast, _ in steps}
    assert by_name["none"] == [True, False, False, False]
    assert by_name["remote parent"] == [False, False, False, False]
    assert by_name["meter"] == [True, True, False, True]
    assert by_name["tracer"] == [False, True, True, True]


def test_a_getter_answers_only_its_own_name() -> None:
    from patchwire_otel.plugin import _Getter

    calls: list[int] = []
    getter = _Getter("_TRACER_PROVIDER", lambda: calls.append(1) or "provider")
    assert getter._TRACER_PROVIDER == "provider"
    assert calls == [1]
    with pytest.raises(AttributeError):
        _ = getter._METER_PROVIDER
    bare = _Getter.__new__(_Getter)  # not initialised: no recursion through __getattr__
    with pytest.raises(AttributeError):
        _ = bare._TRACER_PROVIDER
