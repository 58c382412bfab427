"""Adding up metrics rows, e.g. the targets of a route, into one row."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import attrs

from patchwire.histogram import Histogram
from patchwire.metrics.snapshot import (
    COUNT_MAPS,
    BreakerMetrics,
    CacheMetrics,
    ConnectorMetrics,
    LatencyMetrics,
    LimiterMetrics,
    QuotaMetrics,
    RetryMetrics,
)

__all__ = ["combine_rows"]

_BREAKER_SEVERITY = {"open": 0, "half_open": 1, "closed": 2}
_SUMMED = (
    "started",
    "succeeded",
    "failed",
    "fallbacks",
    "transforms",
    "timeouts",
    "input_tokens",
    "output_tokens",
    "cost",
    "cost_unknown",
    "cache_savings",
    "batches",
    "batched_items",
    "tool_calls",
    "runs",
    "runs_failed",
    "run_steps",
    "run_tool_calls",
)


def combine_rows(
    rows: Sequence[ConnectorMetrics], connector: str | None, model: str | None
) -> ConnectorMetrics:
    if connector is None:
        connector = "+".join(dict.fromkeys(row.connector for row in rows))
    if model is None:
        model = "+".join(dict.fromkeys(row.model for row in rows if row.model is not None)) or None
    if len(rows) == 1:
        return attrs.evolve(rows[0], connector=connector, model=model)
    fields: dict[str, Any] = {name: sum(getattr(row, name) for row in rows) for name in _SUMMED}
    for name in COUNT_MAPS:
        counts: Counter[str] = Counter()
        for row in rows:
            counts.update(getattr(row, name))
        fields[name] = counts
    return ConnectorMetrics(
        connector=connector,
        model=model,
        latency=_combine_latency([row.latency for row in rows]),
        retries=RetryMetrics(
            **{
                f.name: sum(getattr(row.retries, f.name) for row in rows)
                for f in attrs.fields(RetryMetrics)
            }
        ),
        limiter=LimiterMetrics(
            throttled=sum(row.limiter.throttled for row in rows),
            wait_total=sum(row.limiter.wait_total for row in rows),
            wait_max=max((row.limiter.wait_max for row in rows), default=0.0),
            refused=sum(row.limiter.refused for row in rows),
        ),
        quota=max(
            (row.quota for row in rows),
            key=lambda q: (q.used_pct is not None, q.used_pct or 0.0, q.reported_at is not None),
            default=QuotaMetrics(),
        ),
        cache=CacheMetrics(
            hits=sum(row.cache.hits for row in rows),
            misses=sum(row.cache.misses for row in rows),
        ),
        breaker=BreakerMetrics(
            state=min(
                (row.breaker.state for row in rows if row.breaker.state is not None),
                key=lambda state: _BREAKER_SEVERITY.get(state, len(_BREAKER_SEVERITY)),
                default=None,
            ),
            transitions=sum(row.breaker.transitions for row in rows),
        ),
        **fields,
    )


def _combine_latency(parts: Sequence[LatencyMetrics]) -> LatencyMetrics:
    measured = [part for part in parts if part.count]
    if len(measured) <= 1:
        return measured[0] if measured else LatencyMetrics()
    histograms = [part.histogram for part in measured if part.histogram is not None]
    if len(histograms) == len(measured):
        merged = Histogram()
        for histogram in histograms:
            merged.merge(histogram)
        return LatencyMetrics.of(merged)
    return LatencyMetrics(
        count=sum(part.count for part in measured),
        sum=sum(part.sum for part in measured),
        max=max((part.max for part in measured if part.max is not None), default=None),
    )
