from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.clock import VirtualClock
from patchwire.events import Event, EventKind
from patchwire.metrics import MetricsAggregator


def started(connector: str = "openai", model: str = "gpt-4o-mini") -> Event:
    return Event(EventKind.CALL_STARTED, connector, model)


def succeeded(latency: float, model: str = "gpt-4o-mini") -> Event:
    return Event(EventKind.CALL_SUCCEEDED, "openai", model, duration=latency, cost=0.01)


def test_window_forgets_calls_older_than_the_window_and_totals_keep_them() -> None:
    clock = VirtualClock()
    aggregator = MetricsAggregator(clock, windows=(60.0, 300.0))
    assert aggregator.resolution == 5.0
    aggregator(succeeded(2.0))
    clock.advance(50.0)
    aggregator(succeeded(0.1))

    clock.advance(9.0)  # t = 59: both calls are younger than 60 s
    assert aggregator.snapshot(window=60.0).for_model("openai", "gpt-4o-mini").succeeded == 2

    clock.advance(2.0)  # t = 61: the first call is 61 s old
    recent = aggregator.snapshot(window=60.0).for_model("openai", "gpt-4o-mini")
    assert recent.succeeded == 1
    assert recent.latency.max == 0.1
    assert recent.cost == 0.01
    assert aggregator.snapshot(window=300.0).for_model("openai", "gpt-4o-mini").succeeded == 2

    clock.advance(300.0)
    assert aggregator.snapshot(window=300.0).for_model("openai", "gpt-4o-mini").calls == 0
    totals = aggregator.snapshot().for_model("openai", "gpt-4o-mini")
    assert totals.succeeded == 2
    assert totals.latency.max == 2.0


@settings(max_examples=150, deadline=None)
@given(
    gaps=st.lists(st.floats(min_value=0.0, max_value=40.0), min_size=1, max_size=60),
    wait=st.floats(min_value=0.0, max_value=400.0),
    window=st.sampled_from([5.0, 60.0, 97.0, 300.0]),
)
def test_window_counts_every_event_younger_than_window_minus_resolution_and_none_older_than_window(
    gaps: list[float], wait: float, window: float
) -> None:
    """The view covers the asked window rounded down to whole slots (w); for an event of age
    a at query time: a > w => not counted; a < w - resolution => counted. Running totals
    count everything."""
    clock = VirtualClock(start=1000.0)
    aggregator = MetricsAggregator(clock, windows=(60.0, 300.0))
    times = []
    for gap in gaps:
        clock.advance(gap)
        times.append(clock.now())
        aggregator(started())
    clock.advance(wait)
    now = clock.now()
    ages = [now - t for t in times]
    view = aggregator.snapshot(window=window)
    assert view.window is not None
    assert window - aggregator.resolution < view.window <= window
    counted = view.for_model("openai", "gpt-4o-mini").started
    must = sum(1 for a in ages if a < view.window - aggregator.resolution)
    may = sum(1 for a in ages if a <= view.window)
    assert must <= counted <= may
    assert aggregator.snapshot().for_model("openai", "gpt-4o-mini").started == len(times)


def test_windowed_latency_percentiles_follow_only_recent_calls() -> None:
    clock = VirtualClock()
    aggregator = MetricsAggregator(clock, windows=(10.0,))
    for _ in range(100):
        aggregator(succeeded(5.0))
    clock.advance(20.0)
    for _ in range(100):
        aggregator(succeeded(0.05))
    recent = aggregator.snapshot(window=10.0).connectors[0].latency
    assert recent.count == 100
    assert recent.p99 == pytest.approx(0.05, rel=0.02)
    totals = aggregator.snapshot().connectors[0].latency
    assert totals.p99 == pytest.approx(5.0, rel=0.02)


def test_memory_per_series_is_a_fixed_ring_however_long_time_runs() -> None:
    clock = VirtualClock()
    aggregator = MetricsAggregator(clock, windows=(60.0, 300.0))
    for _ in range(5000):
        aggregator(started())
        clock.advance(1.7)
    (series,) = aggregator._series.values()
    assert len(series.ring) == math.floor(300.0 / aggregator.resolution)
    assert aggregator.snapshot().connectors[0].started == 5000


def test_breaker_state_and_quota_are_current_in_every_window() -> None:
    clock = VirtualClock()
    aggregator = MetricsAggregator(clock, windows=(60.0,))
    aggregator(Event(EventKind.BREAKER_TRANSITION, "openai", data={"from": "closed", "to": "open"}))
    aggregator(
        Event(
            EventKind.QUOTA_REPORTED, "openai", data={"tokens_limit": 100, "tokens_remaining": 40}
        )
    )
    clock.advance(500.0)
    row = aggregator.snapshot(window=60.0).for_model("openai", None)
    assert row.breaker.state == "open"
    assert row.breaker.transitions == 0
    assert row.quota.used_pct == pytest.approx(60.0)
    assert row.quota.reported_at == 0.0


@pytest.mark.parametrize("window", [0.5, 301.0, -1.0])
def test_a_window_outside_what_is_kept_is_refused(window: float) -> None:
    aggregator = MetricsAggregator(VirtualClock(), windows=(60.0, 300.0), resolution=1.0)
    with pytest.raises(ValueError, match="window"):
        aggregator.snapshot(window=window)


@pytest.mark.parametrize(
    ("windows", "resolution"), [((), None), ((0.0,), None), ((60.0,), 90.0), ((math.inf,), None)]
)
def test_impossible_window_configuration_is_refused(
    windows: tuple[float, ...], resolution: float | None
) -> None:
    with pytest.raises(ValueError):
        MetricsAggregator(VirtualClock(), windows=windows, resolution=resolution)
