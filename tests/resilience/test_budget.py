"""The retry budget: harmless to a flaky provider, a hard ceiling on load for a dead one."""

from __future__ import annotations

import asyncio
import bisect
import heapq
import itertools
import math
import random
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.budget import RetryBudget
from patchwire.classification import Classification
from patchwire.clock import VirtualClock
from patchwire.errors import Category, DegradedError, PatchwireError
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.retry import RetryPolicy
from patchwire.testing import Delay, FakeScript

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


@attrs.frozen
class Run:
    calls: int
    attempts: int
    refused: int  # calls that failed only because the budget refused a retry
    exhausted: int  # calls that failed after max_attempts
    duration: float


LATENCIES = ((0.0, 0.01), (0.05, 1.0), (0.5, 5.0), (1.0, 30.0))


def run_workers(
    failure_rate: float,
    seed: int,
    *,
    workers: int = 32,
    calls: int = 600,
    max_attempts: int = 8,
    latency: tuple[float, float] = (0.05, 1.0),
) -> Run:
    """``workers`` callers each make calls back to back until ``calls`` were made; an
    attempt takes a uniform ``latency`` and fails with ``failure_rate``, independently;
    retries follow the policy (full jitter) and a default budget, on the virtual clock."""
    clock = VirtualClock(autojump=False)
    budget = RetryBudget(clock)
    policy = RetryPolicy(max_attempts=max_attempts)
    rng = random.Random(seed)
    order = itertools.count()
    issued = itertools.count()
    # (time, tiebreak, attempt number, True when the attempt starts / False when it ends)
    events: list[tuple[float, int, int, bool]] = []

    def next_call(when: float) -> None:
        if next(issued) < calls:
            heapq.heappush(events, (when, next(order), 1, True))

    for _ in range(workers):
        next_call(0.0)
    attempts = refused = exhausted = 0
    while events:
        when, _, attempt, starts = heapq.heappop(events)
        clock.advance(max(0.0, when - clock.now()))
        if starts:
            if attempt == 1:
                budget.record_request()
            attempts += 1
            heapq.heappush(events, (when + rng.uniform(*latency), next(order), attempt, False))
            continue
        if rng.random() >= failure_rate:
            next_call(when)
            continue
        decision = policy.decide(attempt, FAILED, rng.random(), None)
        if not decision.retry:
            exhausted += 1
            next_call(when)
        elif not budget.try_spend():
            refused += 1
            next_call(when)
        else:
            heapq.heappush(events, (when + decision.delay, next(order), attempt + 1, True))
    return Run(calls, attempts, refused, exhausted, clock.now())


@settings(max_examples=80, deadline=None)
@given(
    failure_rate=st.sampled_from([0.1, 0.2, 0.3]) | st.floats(min_value=0.0, max_value=0.3),
    workers=st.sampled_from([1, 4, 32, 64, 128]),
    max_attempts=st.integers(min_value=2, max_value=8),
    latency=st.sampled_from(LATENCIES),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_random_failures_up_to_30_percent_never_run_out_of_budget_start_up_included(
    failure_rate: float,
    workers: int,
    max_attempts: int,
    latency: tuple[float, float],
    seed: int,
) -> None:
    """Invariant: with independent failures at <= 30 %, any number of concurrent callers
    and up to 8 attempts, no call fails because the budget refused a retry, from the
    budget's first call on."""
    run = run_workers(
        failure_rate, seed, workers=workers, max_attempts=max_attempts, latency=latency
    )
    assert run.refused == 0


@settings(max_examples=60, deadline=None)
@given(
    workers=st.sampled_from([1, 4, 32, 64, 128, 256]),
    calls=st.sampled_from([600, 2000]),
    max_attempts=st.integers(min_value=2, max_value=8),
    latency=st.sampled_from(LATENCIES),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_a_dead_provider_gets_ratio_retries_per_call_plus_a_bounded_start_up(
    workers: int, calls: int, max_attempts: int, latency: tuple[float, float], seed: int
) -> None:
    """Invariant: when every attempt fails, retries <= burst + ratio * calls +
    min_per_second * duration + ratio / (1 - ratio) * workers (the gate's start-up, while
    the first failures of the calls in flight arrive)."""
    run = run_workers(
        1.0, seed, workers=workers, calls=calls, max_attempts=max_attempts, latency=latency
    )
    burst, ratio, min_per_second = 10.0, 0.5, 1.0
    bound = burst + ratio * calls + min_per_second * run.duration + ratio / (1 - ratio) * workers
    assert run.attempts - calls <= bound


@pytest.mark.parametrize("workers", [32, 128])
def test_a_busy_dead_provider_sees_about_one_and_a_half_times_the_load(workers: int) -> None:
    """Invariant: with traffic well above min_per_second (here 80-165 calls a second), a
    dead provider's load tends to 1 + ratio attempts per call."""
    run = run_workers(1.0, seed=workers, workers=workers, calls=20_000, latency=(0.0, 0.01))
    assert 1.5 <= run.attempts / run.calls <= 1.52


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
def test_retries_in_any_stretch_stay_within_burst_plus_ratio_times_recent_requests(
    ops: list[tuple[str, float]],
    ratio: float,
    min_per_second: float,
    burst: float,
    window: float,
) -> None:
    """Invariant: for every stretch of events of length T, with R the requests in it and
    R' the requests in it and in the window before it,
    granted retries <= burst + min_per_second * T + ratio * R + 2 * ratio * R'."""
    clock = VirtualClock(autojump=False)
    budget = RetryBudget(
        clock, ratio=ratio, min_per_second=min_per_second, burst=burst, window=window
    )
    before = math.ceil(window)  # the window's whole seconds reach back at most this far
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
        earliest = bisect.bisect_left(times, times[first] - before)
        for last in range(first, len(times)):
            span = times[last] - times[first]
            in_grants = grants[last + 1] - grants[first]
            in_requests = requests[last + 1] - requests[first]
            recent = requests[last + 1] - requests[earliest]
            bound = burst + min_per_second * span + ratio * in_requests + 2 * ratio * recent
            assert in_grants <= bound + 1e-6


@settings(max_examples=200, deadline=None)
@given(
    ops=operations,
    ratio=st.sampled_from([0.0, 0.5, 1.0]) | st.floats(min_value=0.0, max_value=2.0),
    window=st.sampled_from([1.0, 10.0]) | st.floats(min_value=0.5, max_value=30.0),
)
def test_a_retry_is_refused_only_when_more_than_ratio_retries_per_call_were_asked(
    ops: list[tuple[str, float]], ratio: float, window: float
) -> None:
    """Invariant: try_spend says no only when the retries asked in the window (this one
    included) exceed ratio times the calls in it, and the balance is below one."""
    clock = VirtualClock(autojump=False)
    budget = RetryBudget(clock, ratio=ratio, min_per_second=0.0, burst=1.0, window=window)
    for op, dt in ops:
        if op == "advance":
            clock.advance(dt)
        elif op == "record":
            budget.record_request()
        else:
            before = budget.snapshot()
            if not budget.try_spend():
                after = budget.snapshot()
                assert after.asked_in_window > ratio * after.requests_in_window
                assert before.balance < 1.0


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


def test_a_call_counts_toward_the_cap_on_its_own_deposit_whatever_second_its_slot_held() -> None:
    """Invariant: the cap a call's deposit is held to counts that call, in a fresh second
    and after its ring slot has come round again, so ``n`` calls at once save ``ratio * n``
    when that is more than ``burst``."""
    clock = VirtualClock(autojump=False)
    budget = RetryBudget(clock, ratio=1.0, min_per_second=0.0, burst=1.0, window=2.0)
    for expected in (1.0, 2.0, 3.0, 4.0):
        budget.record_request()
        assert budget.snapshot().balance == expected
    clock.advance(4.0)  # the same slot of the ring, two seconds past the window
    budget.record_request()
    snapshot = budget.snapshot()
    assert snapshot.requests_in_window == 1 and snapshot.balance == 1.0
    budget.record_request()
    assert budget.snapshot().balance == 2.0


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


@pytest.mark.parametrize("failure_rate", [0.2, 0.3])
async def test_the_reported_case_through_the_hub_no_call_fails_for_lack_of_budget(
    plugin_host: PluginHost, fake_scripts: dict[str, Any], failure_rate: float
) -> None:
    """The issue's case end to end: 32 concurrent callers, 600 calls, independent 503s,
    max_attempts 8 (breaker off, to isolate the budget). Invariant: no call fails with
    "the connector's retry budget is spent"."""
    clock = VirtualClock()
    rng = random.Random(int(failure_rate * 100))

    def answer(request: Any, attempt: Any) -> Any:
        if rng.random() < failure_rate:
            return DegradedError("503 Service Unavailable")
        return Delay(rng.uniform(0.05, 1.0), "ok")

    fake_scripts["flaky"] = FakeScript(default=answer)
    table = {
        "type": "fake",
        "retry": {"max_attempts": 8, "deadline": 86_400},
        "breaker": {"enabled": False},
    }
    messages: list[str] = []
    async with Hub.from_dict(
        {"connectors": {"flaky": table}}, host=plugin_host, clock=clock, seed=5
    ) as hub:
        model = hub.model("flaky:m")
        remaining = iter(range(600))

        async def caller() -> None:
            for _ in remaining:
                try:
                    await model.complete("x")
                except PatchwireError as exc:
                    messages.append(exc.message)

        await asyncio.gather(*(caller() for _ in range(32)))
    assert not [m for m in messages if "retry budget" in m]
    assert len(messages) <= 1  # 0.3 ** 8 per call: failing all eight attempts is rare


def figures(seeds: int = 20) -> str:
    """The figures for issue 14 item 5: ``python tests/resilience/test_budget.py``."""
    lines = [f"32 callers, 600 calls, max_attempts 8, default budget; sums over {seeds} seeds"]
    for rate in (0.1, 0.2, 0.3):
        runs = [run_workers(rate, seed) for seed in range(seeds)]
        lines.append(
            f"{rate:.0%} random failures: {sum(r.refused for r in runs)} calls refused a retry"
            f" by the budget, {sum(r.exhausted for r in runs)} failed after 8 attempts, of"
            f" {sum(r.calls for r in runs)}; load {sum(r.attempts for r in runs) / sum(r.calls for r in runs):.3f}x"
        )
    for calls in (600, 5_000, 20_000):
        runs = [run_workers(1.0, seed, calls=calls) for seed in range(seeds)]
        worst = max(r.attempts / r.calls for r in runs)
        lines.append(f"dead provider, {calls} calls: worst load multiple {worst:.3f}x")
    return "\n".join(lines)


if __name__ == "__main__":
    print(figures())
