"""Per-connector, per-model metrics: frozen snapshot values and their JSON (``snapshot``),
merging rows across route targets (``combine``), the text table (``table``) and the live
ring-buffer aggregator fed by call-lifecycle events (``aggregator``)."""

from __future__ import annotations

from patchwire.metrics.aggregator import MetricsAggregator
from patchwire.metrics.snapshot import (
    BreakerMetrics,
    CacheMetrics,
    ConnectorMetrics,
    LatencyMetrics,
    LimiterMetrics,
    MetricsSnapshot,
    QuotaMetrics,
    RetryMetrics,
)

__all__ = [
    "BreakerMetrics",
    "CacheMetrics",
    "ConnectorMetrics",
    "LatencyMetrics",
    "LimiterMetrics",
    "MetricsAggregator",
    "MetricsSnapshot",
    "QuotaMetrics",
    "RetryMetrics",
]
