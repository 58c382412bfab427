"""The OpenTelemetry SDK with in-memory exporters, installed as the global providers once.

OpenTelemetry lets a process set its global providers only once, as an application does at
start-up; each test gets them emptied.
"""

from __future__ import annotations

from collections.abc import Iterator

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


_INSTALLED: Telemetry | None = None


def _install() -> Telemetry:
    global _INSTALLED
    if _INSTALLED is None:
        exporter = InMemorySpanExporter()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(tracer_provider)
        reader = InMemoryMetricReader()
        metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
        _INSTALLED = Telemetry(exporter, reader)
    return _INSTALLED


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    installed = _install()
    installed.spans.clear()
    installed.metrics.get_metrics_data()  # cumulative: read now, compare differences later
    yield installed
    installed.spans.clear()


@pytest.fixture
def otel_host(plugin_host: PluginHost, telemetry: Telemetry) -> Iterator[PluginHost]:
    """The test kit's plugin host (fake connector) with a fresh copy of this plugin."""
    plugin_host.register(OtelPlugin(), "otel")
    yield plugin_host
    plugin_host.unregister("otel")
