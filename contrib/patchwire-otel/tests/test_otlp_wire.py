"""Over the wire: the SDK's OTLP/HTTP exporters send patchwire's spans and metrics to a
loopback receiver, which decodes the protobuf payloads.

The application runs in a fresh interpreter because OpenTelemetry's global providers can be
set once per process (this test process already has the in-memory ones). The receiver is a
real HTTP server on 127.0.0.1 in this process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

pytestmark = pytest.mark.integration  # a real HTTP receiver and a child interpreter

APPLICATION = """
import asyncio, os
from opentelemetry import metrics, trace
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from patchwire.clock import VirtualClock
from patchwire.errors import TransientError
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.testing import FakeScript
from patchwire.testing.fake import FakeConnector, FakePlugin
from patchwire_otel.plugin import OtelPlugin

base = os.environ["RECEIVER"]
tracer_provider = TracerProvider()
tracer_provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=base + "/v1/traces")))
trace.set_tracer_provider(tracer_provider)
reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=base + "/v1/metrics"))
meter_provider = MeterProvider(metric_readers=[reader])
metrics.set_meter_provider(meter_provider)

host = PluginHost(load_entry_points=False)
host.register(FakePlugin(), "fake")
host.register(OtelPlugin(), "otel")
FakeConnector.scripts["fake"] = FakeScript().push(TransientError("boom"), "fine")
config = {"connectors": {"fake": {"retry": {"initial": 0.1, "cap": 0.1}}}}

async def main():
    async with Hub.from_dict(config, host=host, clock=VirtualClock()) as hub:
        await hub.model("fake:wire-model").complete("hi")

asyncio.run(main())
tracer_provider.shutdown()
meter_provider.shutdown()  # exports the metrics once more, then stops
"""


class Receiver:
    """Collects every POST body by path."""

    def __init__(self) -> None:
        self.bodies: dict[str, list[bytes]] = {}
        lock = threading.Lock()
        bodies = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                assert self.headers.get("Content-Type") == "application/x-protobuf"
                with lock:
                    bodies.setdefault(self.path, []).append(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=10)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()


def attributes(items: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        value = item.value
        kind = value.WhichOneof("value")
        out[item.key] = getattr(value, kind) if kind else None
    return out


def test_spans_and_metrics_arrive_as_otlp_protobuf(receiver: Receiver) -> None:
    env = {**os.environ, "RECEIVER": receiver.url, "PATCHWIRE_LOAD_PLUGINS": ""}
    done = subprocess.run(
        [sys.executable, "-c", APPLICATION], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]

    spans = []
    for body in receiver.bodies.get("/v1/traces", []):
        request = ExportTraceServiceRequest.FromString(body)
        for resource in request.resource_spans:
            for scope in resource.scope_spans:
                assert scope.scope.name == "patchwire_otel"
                spans.extend(scope.spans)
    by_name = {span.name: span for span in spans}
    call = by_name["chat wire-model"]
    assert attributes(call.attributes)["gen_ai.operation.name"] == "chat"
    assert attributes(call.attributes)["gen_ai.usage.input_tokens"] == 10
    assert [event.name for event in call.events] == ["patchwire.retry"]
    failed = by_name["attempt 1 fake:wire-model"]
    assert failed.parent_span_id == call.span_id
    assert attributes(failed.attributes)["error.type"] == "transient"
    assert by_name["attempt 2 fake:wire-model"].parent_span_id == call.span_id

    names = set()
    for body in receiver.bodies.get("/v1/metrics", []):
        request = ExportMetricsServiceRequest.FromString(body)
        for resource in request.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    names.add(metric.name)
                    if metric.name == "gen_ai.client.operation.duration":
                        (point,) = metric.histogram.data_points
                        assert point.count == 1
                        assert list(point.explicit_bounds)[:3] == [0.01, 0.02, 0.04]
    assert {"gen_ai.client.operation.duration", "gen_ai.client.token.usage"} <= names
