"""Per-connector, per-model metrics: frozen snapshot values and their JSON (``snapshot``),
merging rows across route targets (``combine``), the text table (``table``) and the live
ring-buffer aggregator fed by call-lifecycle events (``aggregator``), with cost by
principal and tag (``by_principal``) kept to a bounded number of series (``cap``)."""

from __future__ import annotations

from patchwire.metrics.aggregator import MetricsAggregator
from patchwire.metrics.snapshot import (
    BreakerMetrics,
    CacheMetrics,
    ConnectorMetrics,
    CostShare,
    LatencyMetrics,
    LimiterMetrics,
    MetricsSnapshot,
    PrincipalMetrics,
    QuotaMetrics,
    RetryMetrics,
)

__all__ = [
    "BreakerMetrics",
    "CacheMetrics",
    "ConnectorMetrics",
    "CostShare",
    "LatencyMetrics",
    "LimiterMetrics",
    "MetricsAggregator",
    "MetricsSnapshot",
    "PrincipalMetrics",
    "QuotaMetrics",
    "RetryMetrics",
]
