"""Admission through the buckets: interval bounds, atomicity, reconcile, cancellation."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.clock import VirtualClock
from patchwire.limiter import Limiter, LimiterRefused, LimitsConfig

from .workload import (
    ADMITTED,
    CANCELLED,
    Request,
    available,
    drive,
    replay,
    run,
    times,
    worst_interval,
)

TOL = 1e-6

configs = st.builds(
    LimitsConfig,
    requests_per_second=st.sampled_from([None, 1, 2, 5]),
    requests_per_minute=st.sampled_from([None, 30, 120]),
    tokens_per_minute=st.sampled_from([None, 100, 600]),
    max_concurrency=st.sampled_from([None, 1, 3]),
)

requests = st.lists(
    st.builds(
        Request,
        arrival=times,
        tokens=st.integers(0, 100),
        priority=st.integers(0, 3),
        hold=st.sampled_from([0.0, 0.5, 2.0]),
    ),
    max_size=25,
)


def sampler(
    limiter: Limiter, clock: VirtualClock, seen: list[dict[str, float]], every: float
) -> asyncio.Task[None]:
    """Read the snapshot every ``every`` seconds of virtual time."""

    async def loop() -> None:
        while True:
            seen.append(available(limiter))
            await clock.sleep(every)

    return asyncio.create_task(loop())


@settings(max_examples=60, deadline=None)
@given(configs, requests)
def test_admitted_cost_never_exceeds_capacity_plus_rate_times_interval(
    config: LimitsConfig, workload: list[Request]
) -> None:
    """For every window and every interval [t1, t2] between admissions, the cost admitted
    in it is <= capacity + rate * (t2 - t1) (checked against the recorded admission times),
    and 0 <= available <= capacity after every charge and at idle instants between."""

    async def scenario() -> None:
        clock = VirtualClock()
        limiter = Limiter("k", config, clock)
        seen: list[dict[str, float]] = []
        watch = sampler(limiter, clock, seen, 2.0)
        trace = await drive(limiter, clock, workload)
        watch.cancel()
        seen.extend(trace.levels)
        for window in config.windows():
            if window.name.startswith("requests"):
                charges = [(t, 1.0, True) for t, _ in trace.admissions]
            else:
                charges = [(t, float(amount), True) for t, amount, _ in trace.charges]
            assert worst_interval(charges, window.capacity, window.rate) <= TOL * window.capacity
            for levels in seen:
                assert -TOL <= levels[window.name] <= window.capacity
        assert set(trace.kinds().values()) <= {ADMITTED}
        assert limiter.snapshot().in_use == 0

    run(scenario())


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 300), st.lists(st.tuples(times, st.integers(0, 300)), max_size=20))
def test_fifo_admission_happens_at_the_first_instant_the_bucket_allows(
    capacity: int, arrivals: list[tuple[float, int]]
) -> None:
    """Work conservation: with one window and equal priorities, each request is admitted
    exactly when a greedy reference bucket says it can be: never earlier, never later."""
    arrivals = sorted((t, min(cost, capacity)) for t, cost in arrivals)
    rate = capacity / 60

    async def scenario() -> None:
        clock = VirtualClock()
        limiter = Limiter("k", LimitsConfig(tokens_per_minute=capacity), clock)
        trace = await drive(limiter, clock, [Request(t, tokens=c) for t, c in arrivals])
        level, stamp, expected = float(capacity), 0.0, []
        for t, cost in arrivals:
            start = max(t, stamp)
            level = min(float(capacity), level + rate * (start - stamp))
            if level < cost:
                start += (cost - level) / rate
                level = float(cost)
            level -= cost
            stamp = start
            expected.append(start)
        admitted = [t for t, _ in sorted(trace.admissions, key=lambda a: a[1])]
        assert admitted == pytest.approx(expected, abs=1e-6)

    run(scenario())


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 80), st.integers(1, 40), st.booleans())
def test_n_concurrent_acquirers_on_a_full_bucket_admit_exactly_min_n_c_at_once(
    n: int, capacity: int, by_tokens: bool
) -> None:
    """N tasks that all ask at the same instant of a full bucket of capacity C: exactly
    min(N, C) are admitted at that instant, the rest only later."""
    config = (
        LimitsConfig(tokens_per_minute=capacity * 10)
        if by_tokens
        else LimitsConfig(requests_per_minute=capacity)
    )

    async def scenario() -> None:
        clock = VirtualClock()
        limiter = Limiter("k", config, clock)
        trace = await drive(limiter, clock, [Request(0.0, tokens=10)] * n)
        assert sum(1 for t, _ in trace.admissions if t == 0.0) == min(n, capacity)
        assert len(trace.admissions) == n

    run(scenario())


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from([100, 400]),
    st.lists(
        st.builds(
            Request,
            arrival=times,
            tokens=st.integers(0, 100),
            priority=st.integers(0, 2),
            hold=st.sampled_from([0.0, 0.0, 1.0, 5.0]),
            actual=st.integers(0, 300),
        ),
        max_size=25,
    ),
)
def test_reconciled_charges_keep_the_interval_bound(capacity: int, workload: list[Request]) -> None:
    """With estimates charged at admission and the difference to the actual usage charged
    (or refunded) when reported, the charges in every interval that ends in an admission
    are <= capacity + rate * interval. With an immediate report (hold 0) that is the bound
    on actual costs; debt from under-estimates delays later admissions. The level never
    exceeds capacity and goes below 0 only through reconcile."""

    async def scenario() -> None:
        clock = VirtualClock()
        config = LimitsConfig(tokens_per_minute=capacity)
        limiter = Limiter("k", config, clock)
        seen: list[dict[str, float]] = []
        watch = sampler(limiter, clock, seen, 3.7)
        trace = await drive(limiter, clock, [attrs_clamp(r, capacity) for r in workload])
        watch.cancel()
        seen.extend(trace.levels)
        charges = [(t, float(a), adm) for t, a, adm in trace.charges]
        assert worst_interval(charges, capacity, capacity / 60) <= TOL * capacity
        assert all(levels["tokens_per_minute"] <= capacity for levels in seen)
        if all(r.actual is None or r.actual <= r.tokens for r in workload):
            assert all(levels["tokens_per_minute"] >= -TOL for levels in seen)
        end = clock.now()
        expected = replay([(t, a) for t, a, _ in trace.charges], capacity, capacity / 60, end)
        assert limiter.snapshot().windows["tokens_per_minute"].available == pytest.approx(
            expected, abs=TOL * capacity
        )

    run(scenario())


def attrs_clamp(request: Request, capacity: int) -> Request:
    return Request(
        request.arrival,
        tokens=min(request.tokens, capacity),
        priority=request.priority,
        hold=request.hold,
        actual=request.actual,
    )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.builds(
            Request,
            arrival=times,
            tokens=st.integers(1, 60),
            priority=st.integers(0, 2),
            hold=st.sampled_from([0.0, 1.0]),
            cancel_after=st.one_of(st.none(), st.floats(0.0, 10.0)),
        ),
        max_size=25,
    )
)
def test_cancelled_waiters_consume_nothing(workload: list[Request]) -> None:
    """Cancelled waiters leave no trace in the buckets: the level at the end equals a
    reference bucket charged only for the admitted requests; idling then gives back exactly
    the capacity; no concurrency slot or queue entry is left behind."""
    capacity = 60

    async def scenario() -> None:
        clock = VirtualClock()
        config = LimitsConfig(requests_per_second=3, tokens_per_minute=capacity, max_concurrency=2)
        limiter = Limiter("k", config, clock)
        trace = await drive(limiter, clock, workload)
        kinds = trace.kinds()
        assert set(kinds.values()) <= {ADMITTED, CANCELLED}
        end = clock.now()
        admitted = [(t, float(workload[i].tokens)) for t, i in trace.admissions]
        expected = replay(admitted, capacity, capacity / 60, end)
        snap = limiter.snapshot()
        assert snap.windows["tokens_per_minute"].available == pytest.approx(expected, abs=TOL)
        assert snap.in_use == 0
        assert snap.waiters == 0
        await clock.sleep(120)
        assert limiter.snapshot().windows["tokens_per_minute"].available == capacity
        assert limiter.snapshot().windows["requests_per_second"].available == 3

    run(scenario())


async def test_oversize_request_is_refused_at_once_and_charges_no_window() -> None:
    clock = VirtualClock()
    limiter = Limiter("k", LimitsConfig(requests_per_minute=10, tokens_per_minute=30000), clock)
    before = limiter.snapshot()
    with pytest.raises(LimiterRefused) as refused:
        await limiter.acquire(tokens=50000)
    assert refused.value.wait is None
    assert (
        refused.value.reason == "request of 50000 tokens exceeds tokens_per_minute capacity 30000"
    )
    assert clock.now() == 0.0
    assert limiter.snapshot() == before


async def test_a_window_that_refuses_charges_no_other_window() -> None:
    """Multi-window atomicity through the limiter: the request window would admit, the
    token window is short; while the request waits, the request window is untouched."""
    clock = VirtualClock()
    limiter = Limiter("k", LimitsConfig(requests_per_minute=60, tokens_per_minute=600), clock)
    (await limiter.acquire(tokens=600)).release()
    assert limiter.snapshot().windows["requests_per_minute"].available == 59
    waiting = asyncio.create_task(limiter.acquire(tokens=300))
    await clock.sleep(10)  # tokens refill 10/s: 100 of the 300 needed
    snap = limiter.snapshot()
    assert snap.windows["requests_per_minute"].available == 60  # refilled, nothing taken
    assert snap.windows["tokens_per_minute"].available == pytest.approx(100)
    assert snap.waiters == 1
    (await waiting).release()
    assert clock.now() == pytest.approx(30)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 8), st.floats(0.0, 10.0), st.integers(1, 4))
def test_a_deadline_that_cannot_be_met_is_refused_at_once_with_the_wait(
    ahead: int, patience: float, capacity: int
) -> None:
    """A request whose deadline falls before the earliest instant the line ahead and the
    bucket allow is refused at its arrival, and the refusal carries that wait; one whose
    deadline can be met is admitted by it (FIFO, one window: the estimate is exact)."""

    async def scenario() -> None:
        clock = VirtualClock()
        limiter = Limiter("k", LimitsConfig(requests_per_second=capacity), clock)
        for _ in range(capacity):
            (await limiter.acquire()).release()
        line = [asyncio.create_task(limiter.acquire()) for _ in range(ahead)]
        await asyncio.sleep(0)
        wait = (ahead + 1) / capacity
        try:
            (await limiter.acquire(deadline=patience)).release()
        except LimiterRefused as refused:
            assert clock.now() == 0.0
            assert wait > patience
            assert refused.wait == pytest.approx(wait)
            assert refused.reason.startswith("deadline: would wait")
        else:
            assert wait <= patience + 1e-9
            assert clock.now() == pytest.approx(wait)
        for task in line:
            (await task).release()

    run(scenario())


async def test_an_empty_config_admits_at_once_and_keeps_no_state() -> None:
    clock = VirtualClock()
    limiter = Limiter("k", LimitsConfig(), clock)
    permits = [await limiter.acquire(tokens=10**9, priority=5, deadline=0.0) for _ in range(1000)]
    await permits[0].reconcile(10)
    for permit in permits:
        permit.release()
    snap = limiter.snapshot()
    assert snap.windows == {}
    assert (snap.in_use, snap.waiters, snap.max_concurrency) == (0, 0, None)
    assert clock.now() == 0.0


async def test_an_empty_line_admits_at_once_and_a_refused_newcomer_joins_the_line() -> None:
    """A newcomer to an empty line is tried before any queueing; refused (the bucket is
    empty), it waits in line like anyone else and is admitted when the bucket allows."""
    clock = VirtualClock()
    limiter = Limiter("k", LimitsConfig(requests_per_second=1, max_concurrency=2), clock)
    first = await limiter.acquire(tokens=7)
    assert first.waited == 0.0
    assert (limiter.snapshot().in_use, limiter.snapshot().waiters) == (1, 0)
    second = asyncio.ensure_future(limiter.acquire(tokens=7))
    await asyncio.sleep(0)
    assert not second.done() and limiter.snapshot().waiters == 1
    clock.advance(1.0)
    permit = await second
    assert clock.now() == pytest.approx(1.0) and permit.waited == pytest.approx(1.0)
    first.release()
    permit.release()
    assert (limiter.snapshot().in_use, limiter.snapshot().waiters) == (0, 0)
