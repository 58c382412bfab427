from __future__ import annotations

import json
from collections import Counter

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.clock import VirtualClock
from patchwire.histogram import RELATIVE_ERROR
from patchwire.metrics import ConnectorMetrics, MetricsAggregator, MetricsSnapshot, QuotaMetrics

from .scripts import Row, Step, events, ledger, scripts


def run(script: list[Step], start: float = 0.0) -> tuple[MetricsAggregator, VirtualClock]:
    clock = VirtualClock(start)
    aggregator = MetricsAggregator(clock)
    for event in events(script):
        aggregator(event)
    return aggregator, clock


def assert_quantile_near(value: float | None, q: float, latencies: list[float]) -> None:
    if not latencies:
        assert value is None
        return
    ordered = sorted(latencies)
    position = q * (len(ordered) - 1)
    low, high = int(position), -int(-position // 1)
    assert value is not None
    assert any(
        abs(value - x) <= RELATIVE_ERROR * x or abs(value - x) < 1e-6
        for x in ordered[low : high + 1]
    )


def assert_row_matches(row: ConnectorMetrics, expected: Row, *, exact: bool = True) -> None:
    """``exact=False`` allows float sums to differ in the last bits (added in another order)."""

    def same(value: float, wanted: float) -> bool:
        return value == wanted if exact else value == pytest.approx(wanted, rel=1e-9, abs=1e-12)

    assert row.started == expected.started
    assert row.succeeded == expected.succeeded
    assert row.failed == expected.failed
    assert row.calls == expected.succeeded + expected.failed
    assert dict(row.errors) == dict(expected.errors)
    assert dict(row.attempt_errors) == dict(expected.attempt_errors)
    assert row.error_rate == (expected.failed / row.calls if row.calls else None)

    assert row.latency.count == len(expected.latencies)
    assert same(row.latency.sum, sum(expected.latencies))
    assert row.latency.max == (max(expected.latencies) if expected.latencies else None)
    for q, value in ((0.5, row.latency.p50), (0.95, row.latency.p95), (0.99, row.latency.p99)):
        assert_quantile_near(value, q, expected.latencies)

    retries = row.retries
    assert retries.succeeded_first_try == expected.succeeded_first_try
    assert retries.succeeded_after_retry == expected.succeeded_after_retry
    assert retries.failed_after_retry == expected.failed_after_retry
    assert retries.failed_without_retry == expected.failed_without_retry
    assert retries.scheduled == expected.retries_scheduled
    assert same(retries.delay_total, expected.delay_total)

    assert row.fallbacks == expected.fallbacks
    assert row.timeouts == sum(expected.timeouts.values())
    assert dict(row.timeouts_by_operation) == {op: n for op, n in expected.timeouts.items() if n}
    assert row.input_tokens == expected.input_tokens
    assert row.output_tokens == expected.output_tokens
    assert same(row.cost, expected.cost)
    assert row.cost_unknown == expected.cost_unknown

    assert row.limiter.throttled == expected.throttled
    assert same(row.limiter.wait_total, expected.wait_total)
    assert row.limiter.wait_max == expected.wait_max
    assert row.limiter.refused == expected.refused

    assert row.cache.hits == expected.cache_hits
    assert row.cache.misses == expected.cache_misses
    lookups = expected.cache_hits + expected.cache_misses
    assert row.cache.hit_rate == (expected.cache_hits / lookups if lookups else None)

    assert row.breaker.state == expected.breaker_state
    assert row.breaker.transitions == expected.breaker_transitions
    assert dict(row.credential_events) == dict(expected.credential_events)
    assert row.batches == expected.batches
    assert row.batched_items == expected.batched_items
    if exact:
        assert row.quota == QuotaMetrics(**expected.quota)


@settings(max_examples=100, deadline=None)
@given(scripts)
def test_every_number_in_the_snapshot_equals_the_ledger_of_what_happened(
    script: list[Step],
) -> None:
    """Calls, outcomes, errors by category, the four-way retry split, latency, tokens, cost
    (unknown counted apart), limiter, cache, fallbacks, breaker, quota, credentials and
    batches: each snapshot number is the one an independent observer of the script wrote."""
    aggregator, _ = run(script, start=12.5)
    snapshot = aggregator.snapshot()
    expected = ledger(script, now=12.5)
    assert [(r.connector, r.model) for r in snapshot.connectors] == sorted(
        expected, key=lambda k: (k[0], k[1] or "")
    )
    for row in snapshot.connectors:
        assert_row_matches(row, expected[(row.connector, row.model)])


@settings(max_examples=50, deadline=None)
@given(scripts, st.lists(st.floats(min_value=0.0, max_value=400.0), min_size=60, max_size=60))
def test_running_totals_keep_everything_however_time_passes_between_events(
    script: list[Step], gaps: list[float]
) -> None:
    """Time slots are reused as the clock moves (gaps up to longer than the longest window);
    what falls off the ring is folded into the totals, so the totals still equal the ledger."""
    clock = VirtualClock()
    aggregator = MetricsAggregator(clock)
    for i, event in enumerate(events(script)):
        clock.advance(gaps[i % len(gaps)])
        aggregator(event)
    expected = ledger(script)
    snapshot = aggregator.snapshot()
    assert len(snapshot.connectors) == len(expected)
    for row in snapshot.connectors:
        assert_row_matches(row, expected[(row.connector, row.model)], exact=False)


@settings(max_examples=50, deadline=None)
@given(scripts)
def test_a_window_covering_the_whole_run_equals_the_running_totals(script: list[Step]) -> None:
    aggregator, clock = run(script)
    clock.advance(30.0)
    totals = aggregator.snapshot()
    for window in aggregator.windows:
        # Cost by principal is kept as running totals only (None in a window's view).
        view = aggregator.snapshot(window=window)
        assert view.principals is None
        assert attrs.evolve(view, window=None, principals=totals.principals) == totals


@settings(max_examples=50, deadline=None)
@given(scripts)
def test_snapshot_survives_a_json_round_trip_unchanged(script: list[Step]) -> None:
    """from_dict(json(to_dict(s))) == s: what `patchwire stats` prints is what was measured."""
    aggregator, _ = run(script)
    snapshot = aggregator.snapshot()
    wire = json.loads(json.dumps(snapshot.to_dict(), allow_nan=False))
    assert MetricsSnapshot.from_dict(wire) == snapshot


@settings(max_examples=50, deadline=None)
@given(scripts)
def test_event_data_other_than_known_fields_never_reaches_the_snapshot(script: list[Step]) -> None:
    """Credential events in the scripts carry a token in their data; no export shows it."""
    aggregator, _ = run(script)
    snapshot = aggregator.snapshot()
    assert "sk-secret" not in json.dumps(snapshot.to_dict())
    assert "sk-secret" not in snapshot.render_table()


@settings(max_examples=50, deadline=None)
@given(scripts)
def test_combining_a_connectors_rows_adds_them_up_with_exact_latency_quantiles(
    script: list[Step],
) -> None:
    """combine(rows) counts what every row counted together, and its quantiles are within
    the histogram's bound of the quantiles of all their latencies pooled."""
    aggregator, _ = run(script)
    expected = [
        row
        for key, row in sorted(ledger(script).items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))
        if key[0] == "openai"
    ]
    combined = MetricsSnapshot.combine([aggregator.snapshot("openai")], connector="openai")
    assert combined.connector == "openai"
    assert combined.started == sum(r.started for r in expected)
    assert combined.succeeded == sum(r.succeeded for r in expected)
    assert combined.failed == sum(r.failed for r in expected)
    assert dict(combined.errors) == dict(sum((r.errors for r in expected), Counter()))
    assert dict(combined.credential_events) == dict(
        sum((r.credential_events for r in expected), Counter())
    )
    assert combined.retries.succeeded_after_retry == sum(r.succeeded_after_retry for r in expected)
    assert combined.retries.failed_without_retry == sum(r.failed_without_retry for r in expected)
    assert combined.input_tokens == sum(r.input_tokens for r in expected)
    assert combined.cost == sum(r.cost for r in expected)
    assert combined.cost_unknown == sum(r.cost_unknown for r in expected)
    assert combined.cache.hits == sum(r.cache_hits for r in expected)
    assert combined.limiter.wait_max == max((r.wait_max for r in expected), default=0.0)
    assert combined.breaker.transitions == sum(r.breaker_transitions for r in expected)
    timeouts = sum((r.timeouts for r in expected), Counter())
    assert combined.timeouts == sum(timeouts.values())
    assert dict(combined.timeouts_by_operation) == {op: n for op, n in timeouts.items() if n}
    pooled = [latency for r in expected for latency in r.latencies]
    assert combined.latency.count == len(pooled)
    assert combined.latency.sum == pytest.approx(sum(pooled))
    for q, value in (
        (0.5, combined.latency.p50),
        (0.95, combined.latency.p95),
        (0.99, combined.latency.p99),
    ):
        assert_quantile_near(value, q, pooled)
