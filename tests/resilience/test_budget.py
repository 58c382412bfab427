"""The retry budget: harmless to a flaky provider, a hard ceiling on load for a dead one."""

from __future__ import annotations

import heapq
import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.budget import RetryBudget
from patchwire.classification import Classification
from patchwire.clock import VirtualClock
from patchwire.errors import Category
from patchwire.retry import RetryPolicy

CALLS = 5_000
RATE = 50.0  # calls per second
FAILED = Classification(Category.TRANSIENT)


def simulate(failure_rate: float, seed: int) -> tuple[int, int, float, RetryBudget]:
    """Offer CALLS calls at RATE per second, each attempt failing with ``failure_rate``,
    retried per the default policy and gated by a default budget.

    Returns total attempts, the calls that failed only because the budget refused a
    retry, how long the workload ran, and the budget.
    """
    clock = VirtualClock(autojump=False)
    budget = RetryBudget(clock)
    policy = RetryPolicy()
    rng = random.Random(seed)
    order = itertools.count()
    pending = [(index / RATE, next(order), 1) for index in range(CALLS)]
    heapq.heapify(pending)
    attempts = refused = 0
    while pending:
        when, _, attempt = heapq.heappop(pending)
        clock.advance(max(0.0, when - clock.now()))
        if attempt == 1:
            budget.record_request()
        attempts += 1
        if rng.random() >= failure_rate:
            continue
        decision = policy.decide(attempt, FAILED, rng.random(), None)
        if not decision.retry:
            continue
        if not budget.try_spend():
            refused += 1
            continue
        heapq.heappush(pending, (when + decision.delay, next(order), attempt + 1))
    return attempts, refused, clock.now(), budget


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_provider_failing_one_call_in_five_is_never_starved(seed: int) -> None:
    """Invariant: at 20 % random failures (max_attempts=4), the budget refuses no retry
    that the policy would have made."""
    attempts, refused, _, _ = simulate(0.2, seed)
    assert refused == 0
    # Sanity: retries did happen, about 0.25 per call.
    assert 1.2 < attempts / CALLS < 1.3


def test_a_provider_failing_every_call_gets_at_most_about_one_and_a_half_times_the_load() -> None:
    """Invariant: at 100 % failures, retries stay within burst + ratio * calls +
    min_per_second * duration — about 1.5 attempts per call instead of max_attempts."""
    attempts, refused, duration, budget = simulate(1.0, seed=4)
    burst, ratio, min_per_second = 10.0, 0.5, 1.0
    assert attempts - CALLS <= burst + ratio * CALLS + min_per_second * duration
    assert attempts / CALLS <= 1.53
    # The budget is a ceiling, not a wall: it spends what it earns.
    assert attempts / CALLS >= 1 + ratio
    assert refused > 0
    snapshot = budget.snapshot()
    window = 10.0
    assert snapshot.retries_in_window <= (
        ratio * snapshot.requests_in_window + burst + min_per_second * window
    )


operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("advance"),
            st.sampled_from([0.0, 0.1, 1.0, 5.0]) | st.floats(min_value=0.0, max_value=5.0),
        ),
        st.tuples(st.just("record"), st.just(0.0)),
        st.tuples(st.just("spend"), st.just(0.0)),
    ),
    max_size=150,
)


@settings(max_examples=200, deadline=None)
@given(
    ops=operations,
    ratio=st.sampled_from([0.0, 0.1, 0.5, 2.0]) | st.floats(min_value=0.0, max_value=2.0),
    min_per_second=st.sampled_from([0.0, 0.5, 1.0]) | st.floats(min_value=0.0, max_value=5.0),
    burst=st.sampled_from([1.0, 2.0, 3.5, 10.0]) | st.floats(min_value=1.0, max_value=20.0),
    window=st.sampled_from([1.0, 10.0]) | st.floats(min_value=0.5, max_value=30.0),
)
def test_retries_in_any_window_stay_within_ratio_times_requests_plus_burst(
    ops: list[tuple[str, float]],
    ratio: float,
    min_per_second: float,
    burst: float,
    window: float,
) -> None:
    """Invariant: for every stretch of events spanning at most ``window`` seconds,
    granted retries <= ratio * requests + burst + min_per_second * window
    (and, for any stretch of length T, with T in place of window)."""
    clock = VirtualClock(autojump=False)
    budget = RetryBudget(
        clock, ratio=ratio, min_per_second=min_per_second, burst=burst, window=window
    )
    times: list[float] = []
    requests = [0]
    grants = [0]
    for op, dt in ops:
        if op == "advance":
            clock.advance(dt)
            continue
        if op == "record":
            budget.record_request()
        granted = op == "spend" and budget.try_spend()
        times.append(clock.now())
        requests.append(requests[-1] + (op == "record"))
        grants.append(grants[-1] + granted)
    for first in range(len(times)):
        for last in range(first, len(times)):
            span = times[last] - times[first]
            in_grants = grants[last + 1] - grants[first]
            in_requests = requests[last + 1] - requests[first]
            assert in_grants <= ratio * in_requests + burst + min_per_second * span + 1e-6
            if span <= window:
                assert in_grants <= ratio * in_requests + burst + min_per_second * window + 1e-6


def test_a_quiet_connector_earns_retries_with_time() -> None:
    """Invariant: min_per_second refills the balance with no traffic, up to burst."""
    clock = VirtualClock(autojump=False)
    budget = RetryBudget(clock, ratio=0.0, min_per_second=1.0, burst=3.0)
    assert [budget.try_spend() for _ in range(4)] == [True, True, True, False]
    clock.advance(2.0)
    assert [budget.try_spend() for _ in range(3)] == [True, True, False]
    clock.advance(100.0)
    assert budget.snapshot().balance == 3.0


def test_fractional_ratios_add_up_to_whole_retries() -> None:
    """Invariant: ten deposits of 0.1 buy one retry despite float rounding."""
    clock = VirtualClock(autojump=False)
    budget = RetryBudget(clock, ratio=0.1, min_per_second=0.0, burst=1.0)
    assert budget.try_spend()
    for _ in range(10):
        budget.record_request()
    assert budget.try_spend()
    assert not budget.try_spend()


def test_snapshot_counts_the_recent_window_only() -> None:
    clock = VirtualClock(autojump=False)
    budget = RetryBudget(clock, window=10.0)
    for _ in range(4):
        budget.record_request()
    assert budget.try_spend()
    clock.advance(5.0)
    budget.record_request()
    snapshot = budget.snapshot()
    assert (snapshot.requests_in_window, snapshot.retries_in_window) == (5, 1)
    assert snapshot.allowed_now
    clock.advance(6.0)
    assert (budget.snapshot().requests_in_window, budget.snapshot().retries_in_window) == (1, 0)


@pytest.mark.parametrize(
    "kwargs",
    [{"ratio": -0.1}, {"min_per_second": float("nan")}, {"burst": 0.5}, {"window": 0.0}],
)
def test_invalid_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryBudget(VirtualClock(), **kwargs)
