"""A ``prometheus_client`` collector that reads a patchwire metrics snapshot at scrape time.

There is no second bookkeeping: each ``collect()`` takes one snapshot (``hub.metrics``) and
turns its running totals into metric families, so what Prometheus stores is exactly what
``hub.metrics()`` reported at that moment. Counters are the aggregator's running totals;
they fall back to zero only if the application calls ``hub.aggregator.reset()``, which
Prometheus' ``rate()`` and ``increase()`` treat as a counter reset.

Names follow Prometheus practice: the ``patchwire_`` prefix, base units in the name
(``_seconds``), ``_total`` on counters (``prometheus_client`` appends it), ratios in
``[0, 1]``. Labels come from ``patchwire_prometheus.labels`` only.

Latency is a histogram of succeeded calls' durations (failed calls have no latency in the
snapshot). Its bucket counts come from the aggregator's own histogram, which is exact at
``_count`` and ``_sum`` and puts a sample less than one of its buckets' widths (4 %) below
a bound into the next bucket up (``patchwire.histogram.Histogram.count_at_most``).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import cast

from patchwire.metrics import ConnectorMetrics, MetricsSnapshot
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString

from patchwire_prometheus import labels
from patchwire_prometheus.principals import PRINCIPAL_LABELS, principal_families

__all__ = ["DEFAULT_BUCKETS", "PatchwireCollector", "check_buckets"]

DEFAULT_BUCKETS: tuple[float, ...] = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip
"""Seconds: the OpenTelemetry GenAI conventions' boundaries for ``gen_ai.client.operation.
duration``, from a cached reply (10 ms) to a long generation (over a minute)."""

_ROW = ("connector", "model")
# Bucket bounds written as Prometheus' own clients write them ("1.0", "+Inf"); the helper
# is untyped upstream.
_go_float = cast(Callable[[float], str], floatToGoString)


def check_buckets(buckets: Iterable[float]) -> tuple[float, ...]:
    """Histogram upper bounds in seconds: finite, positive and strictly increasing."""
    bounds = tuple(float(b) for b in buckets)
    if not bounds:
        raise ValueError("latency buckets: give at least one upper bound in seconds")
    for low, high in itertools.pairwise(bounds):
        if not high > low:
            raise ValueError(f"latency buckets must increase strictly, got {list(bounds)!r}")
    if not (bounds[0] > 0 and math.isfinite(bounds[-1])):
        raise ValueError(
            f"latency buckets must be positive finite seconds (+Inf is added), got {list(bounds)!r}"
        )
    return bounds


class PatchwireCollector:
    """Collects ``source()`` (e.g. ``hub.metrics``) into Prometheus metric families.

    ``source`` must return running totals (a snapshot without ``window``): windowed views
    go up and down, which a counter must not. ``buckets`` are the latency histogram's upper
    bounds in seconds (``+Inf`` is added). ``principal_label`` adds per-principal cost
    series: ``"none"`` (the default: cost by declared tag value only), ``"hash"`` or
    ``"id"`` (see ``patchwire_prometheus.principals``).
    """

    def __init__(
        self,
        source: Callable[[], MetricsSnapshot],
        *,
        buckets: Sequence[float] = DEFAULT_BUCKETS,
        principal_label: str = "none",
    ) -> None:
        if principal_label not in PRINCIPAL_LABELS:
            raise ValueError(
                f"principal_label must be one of {', '.join(PRINCIPAL_LABELS)},"
                f" got {principal_label!r}"
            )
        self._source = source
        self.buckets = check_buckets(buckets)
        self.principal_label = principal_label

    def describe(self) -> list[Metric]:
        # Registering must not take a snapshot; prometheus_client then skips the duplicate-name
        # check for this collector, which owns the patchwire_ prefix anyway.
        return []

    def collect(self) -> Iterator[Metric]:
        snapshot = self._source()
        if snapshot.window is not None:
            raise ValueError(
                "PatchwireCollector needs running totals: pass hub.metrics, not a windowed view"
            )
        yield from snapshot_families(snapshot, self.buckets)
        yield from principal_families(snapshot, self.principal_label)

    def __repr__(self) -> str:
        return (
            f"PatchwireCollector(buckets={list(self.buckets)!r},"
            f" principal_label={self.principal_label!r})"
        )


def _row(row: ConnectorMetrics) -> list[str]:
    return [row.connector, row.model or ""]


def _counter(name: str, doc: str, extra: Sequence[str] = ()) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, labels=[*_ROW, *extra])


def _gauge(name: str, doc: str, extra: Sequence[str] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=[*_ROW, *extra])


def _mapped(counts: Mapping[str, int], to_label: Callable[[str], str]) -> Counter[str]:
    # Two raw keys may map to one label value ("other"); their counts add up.
    out: Counter[str] = Counter()
    for key, n in counts.items():
        out[to_label(key)] += n
    return out


def snapshot_families(snapshot: MetricsSnapshot, buckets: Sequence[float]) -> list[Metric]:
    """Every metric family for one snapshot (the collector's output, without the source)."""
    calls = _counter(
        "patchwire_calls",
        "Logical calls that finished, by outcome and, for failures, error category.",
        ["outcome", "category"],
    )
    started = _counter("patchwire_calls_started", "Logical calls started.")
    retried = _counter(
        "patchwire_calls_retried",
        "Finished calls that needed at least one retry, by outcome.",
        ["outcome"],
    )
    attempt_failures = _counter(
        "patchwire_attempt_failures",
        "Failed attempts (each retry's cause), by error category.",
        ["category"],
    )
    latency = HistogramMetricFamily(
        "patchwire_call_duration_seconds",
        "Duration of succeeded logical calls, retries and waits included.",
        labels=list(_ROW),
    )
    tokens = _counter(
        "patchwire_tokens",
        "Tokens billed by the provider (cached replies add none), by kind.",
        ["kind"],
    )
    cost = _counter(
        "patchwire_cost",
        "Cost of billed tokens in the price table's currency (US dollars for first-party prices).",
    )
    cost_unknown = _counter(
        "patchwire_cost_unknown_calls", "Succeeded calls whose cost is unknown (no price)."
    )
    cost_missing = _counter(
        "patchwire_cost_missing_rules",
        "Unknown-cost calls by the pricing rule that had no figure ('price': the model has none).",
        ["rule"],
    )
    cache_savings = _counter(
        "patchwire_cache_savings",
        "What caching saved in the price table's currency: the provider's prompt cache, and"
        " the whole cost of replies patchwire's own cache served.",
    )
    tool_calls = _counter("patchwire_tool_calls", "Tool calls returned to the application.")
    invalid_outputs = _counter(
        "patchwire_invalid_outputs",
        "Replies that failed validation, by what failed (output: the structured output;"
        " tool_arguments: a tool call's arguments).",
        ["kind"],
    )
    timeouts = _counter(
        "patchwire_timeouts",
        "Attempts that ran out of time (also counted as degraded attempt failures), by operation.",
        ["operation"],
    )
    operation_calls = _counter(
        "patchwire_operation_calls",
        "Logical calls that finished, by operation (complete, stream, embed, list_tools,"
        " tool:NAME) and outcome.",
        ["operation", "outcome"],
    )
    retries = _counter(
        "patchwire_retries",
        "Retries scheduled, by the error category of the attempt that caused them.",
        ["category"],
    )
    retry_delay = _counter(
        "patchwire_retry_delay_seconds", "Time scheduled to wait before retries."
    )
    fallbacks = _counter(
        "patchwire_fallbacks", "Route fallbacks taken, under the target that was left."
    )
    cache_hits = _counter("patchwire_cache_hits", "Calls answered from patchwire's cache.")
    cache_misses = _counter("patchwire_cache_misses", "Cacheable calls the cache could not answer.")
    waits = _counter("patchwire_limiter_waits", "Requests that waited in the rate limiter's queue.")
    wait_seconds = _counter(
        "patchwire_limiter_wait_seconds", "Time requests waited in the rate limiter's queue."
    )
    wait_max = _gauge("patchwire_limiter_wait_max_seconds", "Longest single wait in the limiter.")
    refused = _counter(
        "patchwire_limiter_refused", "Requests the limiter refused (deadline or quota)."
    )
    queued = _gauge(
        "patchwire_limiter_queue_depth",
        "Requests waiting in the connector's rate limiter at the scrape (model is empty).",
    )
    quota_limit = _gauge(
        "patchwire_quota_limit", "The provider's quota as last reported.", ["resource"]
    )
    quota_remaining = _gauge(
        "patchwire_quota_remaining", "The provider's quota left as last reported.", ["resource"]
    )
    quota_used = _gauge(
        "patchwire_quota_used_ratio",
        "Share of the quota used (the provider's most used, else the limiter's), 0 to 1.",
    )
    breaker = _gauge(
        "patchwire_breaker_state", "Circuit breaker state: 1 for the current one.", ["state"]
    )
    transitions = _counter("patchwire_breaker_transitions", "Circuit breaker state changes.")
    credentials = _counter(
        "patchwire_credential_events",
        "Credential acquisitions, refreshes, failures and secret re-reads.",
        ["kind"],
    )
    batches = _counter("patchwire_embedding_batches", "Embedding batches sent.")
    batched = _counter("patchwire_embedding_batch_items", "Inputs sent in embedding batches.")

    for row in snapshot.connectors:
        key = _row(row)
        calls.add_metric([*key, "succeeded", ""], row.succeeded)
        for name, n in sorted(_mapped(row.errors, labels.category).items()):
            calls.add_metric([*key, "failed", name], n)
        started.add_metric(key, row.started)
        retried.add_metric([*key, "succeeded"], row.retries.succeeded_after_retry)
        retried.add_metric([*key, "failed"], row.retries.failed_after_retry)
        for name, n in sorted(_mapped(row.attempt_errors, labels.category).items()):
            attempt_failures.add_metric([*key, name], n)
        if row.latency.histogram is not None:
            latency.add_metric(key, _buckets(row, buckets), row.latency.sum)
        tokens.add_metric([*key, "input"], row.input_tokens)
        tokens.add_metric([*key, "output"], row.output_tokens)
        cost.add_metric(key, row.cost)
        cost_unknown.add_metric(key, row.cost_unknown)
        for name, n in sorted(_mapped(row.cost_missing, labels.cost_rule).items()):
            cost_missing.add_metric([*key, name], n)
        cache_savings.add_metric(key, row.cache_savings)
        tool_calls.add_metric(key, row.tool_calls)
        for name, n in sorted(_mapped(row.invalid_outputs, labels.invalid_kind).items()):
            invalid_outputs.add_metric([*key, name], n)
        for name, n in sorted(_mapped(row.timeouts_by_operation, labels.operation).items()):
            timeouts.add_metric([*key, name], n)
        for (name, outcome), n in sorted(_by_operation(row).items()):
            operation_calls.add_metric([*key, name, outcome], n)
        for name, n in sorted(_retry_causes(row).items()):
            retries.add_metric([*key, name], n)
        retry_delay.add_metric(key, row.retries.delay_total)
        fallbacks.add_metric(key, row.fallbacks)
        cache_hits.add_metric(key, row.cache.hits)
        cache_misses.add_metric(key, row.cache.misses)
        waits.add_metric(key, row.limiter.throttled)
        wait_seconds.add_metric(key, row.limiter.wait_total)
        wait_max.add_metric(key, row.limiter.wait_max)
        refused.add_metric(key, row.limiter.refused)
        for resource, limit, remaining in (
            ("requests", row.quota.requests_limit, row.quota.requests_remaining),
            ("tokens", row.quota.tokens_limit, row.quota.tokens_remaining),
        ):
            if limit is not None:
                quota_limit.add_metric([*key, resource], limit)
            if remaining is not None:
                quota_remaining.add_metric([*key, resource], remaining)
        if row.quota.used_pct is not None:
            quota_used.add_metric(key, row.quota.used_pct / 100.0)
        if row.breaker.state in labels.BREAKER_STATES:
            for state in labels.BREAKER_STATES:
                breaker.add_metric([*key, state], 1.0 if state == row.breaker.state else 0.0)
        transitions.add_metric(key, row.breaker.transitions)
        for kind, n in sorted(_mapped(row.credential_events, labels.credential_kind).items()):
            credentials.add_metric([*key, kind], n)
        batches.add_metric(key, row.batches)
        batched.add_metric(key, row.batched_items)

    for connector, depth in sorted(snapshot.limiter_queued.items()):
        queued.add_metric([connector, ""], depth)

    sink_failures = CounterMetricFamily(
        "patchwire_event_sink_failures",
        "Events an event sink failed to take (a sink never fails a call).",
        labels=["sink"],
    )
    for sink, n in sorted(snapshot.sink_failures.items()):
        sink_failures.add_metric([sink], n)
    return [
        calls,
        started,
        retried,
        attempt_failures,
        latency,
        tokens,
        cost,
        cost_unknown,
        cost_missing,
        cache_savings,
        tool_calls,
        invalid_outputs,
        timeouts,
        operation_calls,
        retries,
        retry_delay,
        fallbacks,
        cache_hits,
        cache_misses,
        waits,
        wait_seconds,
        wait_max,
        refused,
        queued,
        quota_limit,
        quota_remaining,
        quota_used,
        breaker,
        transitions,
        credentials,
        batches,
        batched,
        sink_failures,
    ]


def _by_operation(row: ConnectorMetrics) -> Counter[tuple[str, str]]:
    out: Counter[tuple[str, str]] = Counter()
    for name, n in row.calls_by_operation.items():
        failed = row.failed_by_operation.get(name, 0)
        out[labels.operation(name), "succeeded"] += n - failed
        out[labels.operation(name), "failed"] += failed
    return out


def _retry_causes(row: ConnectorMetrics) -> Counter[str]:
    causes = _mapped(row.retries_by_category, labels.category)
    # A row without the split (read from an older JSON) still shows every retry.
    unsplit = row.retries.scheduled - sum(causes.values())
    if unsplit > 0 or not causes:
        causes["unknown"] += max(unsplit, 0)
    return causes


def _buckets(row: ConnectorMetrics, bounds: Sequence[float]) -> list[tuple[str, float]]:
    # Only live rows have a histogram; a row rebuilt from JSON (count and sum alone) is
    # left out of the histogram rather than shown with buckets nobody measured.
    histogram = row.latency.histogram
    assert histogram is not None
    out = [(_go_float(bound), float(histogram.count_at_most(bound))) for bound in bounds]
    out.append(("+Inf", float(row.latency.count)))
    return out
