"""The OpenTelemetry SDK with in-memory exporters, installed as the global providers once.

OpenTelemetry lets a process set its global providers only once, as an application does at
start-up; each test gets them emptied. Tracing is switched on only while a test of this
directory runs: the rest of the suite (in the same process under ``make test``) gets the
API's non-recording spans, so its requests carry no trace context and its headers stay as
its own tests expect.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import attrs
import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from patchwire.plugins import PluginHost
from patchwire_otel.plugin import OtelPlugin


@attrs.frozen
class Telemetry:
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader


class _Switched(trace.TracerProvider):
    """Hands out the SDK's tracers while ``on``, non-recording spans otherwise."""

    def __init__(self, sdk: TracerProvider) -> None:
        self.sdk = sdk
        self.on = False

    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        return _SwitchedTracer(self, self.sdk.get_tracer(*args, **kwargs))


class _SwitchedTracer(trace.Tracer):
    def __init__(self, switch: _Switched, tracer: trace.Tracer) -> None:
        self._switch = switch
        self._tracer = tracer

    def start_span(self, *args: Any, **kwargs: Any) -> trace.Span:
        if self._switch.on:
            return self._tracer.start_span(*args, **kwargs)
        return trace.INVALID_SPAN

    @contextmanager
    def start_as_current_span(  # type: ignore[override]
        self, *args: Any, **kwargs: Any
    ) -> Iterator[trace.Span]:
        if not self._switch.on:
            yield trace.INVALID_SPAN
            return
        with self._tracer.start_as_current_span(*args, **kwargs) as span:
            yield span


_INSTALLED: Telemetry | None = None
_SWITCH: _Switched | None = None


def _install() -> Telemetry:
    global _INSTALLED, _SWITCH
    if _INSTALLED is None:
        exporter = InMemorySpanExporter()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
        _SWITCH = _Switched(tracer_provider)
        trace.set_tracer_provider(_SWITCH)
        reader = InMemoryMetricReader()
        metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
        _INSTALLED = Telemetry(exporter, reader)
    return _INSTALLED


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    installed = _install()
    assert _SWITCH is not None
    installed.spans.clear()
    installed.metrics.get_metrics_data()  # cumulative: read now, compare differences later
    _SWITCH.on = True
    try:
        yield installed
    finally:
        _SWITCH.on = False
        installed.spans.clear()


@pytest.fixture
def otel_host(plugin_host: PluginHost, telemetry: Telemetry) -> Iterator[PluginHost]:
    """The test kit's plugin host (fake connector) with a fresh copy of this plugin."""
    plugin_host.register(OtelPlugin(), "otel")
    yield plugin_host
    plugin_host.unregister("otel")
