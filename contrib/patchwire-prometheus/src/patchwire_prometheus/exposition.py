"""The Prometheus text format for ``hub.serve_metrics()``'s ``/metrics``.

The latency buckets come from ``PATCHWIRE_PROMETHEUS_BUCKETS`` (upper bounds in seconds,
comma-separated, e.g. ``0.1,0.5,1,2,5,10,30,60``) when it is set, else the defaults; an
application with its own ``prometheus_client`` registry passes ``buckets=`` to
``PatchwireCollector`` instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from patchwire.metrics import MetricsSnapshot
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from patchwire_prometheus.collector import DEFAULT_BUCKETS, PatchwireCollector, check_buckets

__all__ = ["BUCKETS_ENV", "CONTENT_TYPE", "buckets_from_environment", "renderer"]

BUCKETS_ENV = "PATCHWIRE_PROMETHEUS_BUCKETS"
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
"""The classic text format, which every Prometheus server version reads."""


def buckets_from_environment() -> tuple[float, ...]:
    text = os.environ.get(BUCKETS_ENV, "").strip()
    if not text:
        return DEFAULT_BUCKETS
    try:
        return check_buckets(float(part) for part in text.split(","))
    except ValueError as exc:
        raise ValueError(
            f"{BUCKETS_ENV}={text!r} is not a list of latency bucket bounds: {exc}; write"
            " increasing seconds separated by commas, e.g. 0.1,0.5,1,2,5,10,30,60"
        ) from None


def renderer(
    buckets: Sequence[float], principal_label: str = "none"
) -> Callable[[MetricsSnapshot], bytes]:
    """``render(snapshot)`` for ``patchwire_register_metrics_formats``."""
    bounds = check_buckets(buckets)

    def render(snapshot: MetricsSnapshot) -> bytes:
        # A registry per scrape holding one collector over the snapshot already taken.
        registry = CollectorRegistry(auto_describe=False)
        registry.register(
            PatchwireCollector(lambda: snapshot, buckets=bounds, principal_label=principal_label)
        )
        return generate_latest(registry)

    return render
