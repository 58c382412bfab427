"""OpenTelemetry's console exporters as the global providers: ``patchwire demo --otel console``.

For trying the plugin without a collector: every finished span is printed as JSON, and the
metrics once, when :func:`install_console` 's returned ``shutdown`` runs. Needs the SDK
(``pip install 'patchwire-otel[console]'``); the plugin itself depends on the API only.
An application that already configured its providers must not call this: OpenTelemetry
accepts global providers once per process.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO

__all__ = ["install_console"]


def install_console(out: TextIO | None = None) -> Callable[[], None]:
    """Print spans (as they end) and metrics (at shutdown) to ``out`` (stderr by default,
    so that a command's own output stays parseable); returns ``shutdown``, which flushes."""
    try:
        from opentelemetry import metrics, trace
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import (
            ConsoleMetricExporter,
            PeriodicExportingMetricReader,
        )
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
    except ImportError:
        raise RuntimeError(
            "the console exporters need the OpenTelemetry SDK:"
            " pip install 'patchwire-otel[console]' (or opentelemetry-sdk)"
        ) from None
    stream = out if out is not None else sys.stderr
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=stream)))
    # A reader that exports only when asked (at shutdown): an interval in hours, not minutes.
    reader = PeriodicExportingMetricReader(
        ConsoleMetricExporter(out=stream), export_interval_millis=3_600_000
    )
    meter_provider = MeterProvider(metric_readers=[reader])
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(meter_provider)

    def shutdown() -> None:
        tracer_provider.shutdown()
        meter_provider.shutdown()  # exports the metrics once more, then stops

    return shutdown
