"""The waiting line: conservation, priority with aging, deadlines, cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from patchwire.clock import VirtualClock, deadline_scope
from patchwire.limiter import (
    AcquireResult,
    BucketSpec,
    Limiter,
    LimiterRefused,
    LimitsConfig,
    MemoryBackend,
)

from .workload import ADMITTED, CANCELLED, EXPIRED, REFUSED, Request, drive, run, times


class YieldingBackend:
    """A memory backend that gives up the loop before every operation, as a network
    store would, so the limiter's handling of a suspended head is exercised."""

    def __init__(self) -> None:
        self.inner = MemoryBackend()

    async def try_acquire(
        self, key: str, specs: Sequence[BucketSpec], costs: Sequence[float], now: float
    ) -> AcquireResult:
        await asyncio.sleep(0)
        return await self.inner.try_acquire(key, specs, costs, now)

    async def adjust(
        self, key: str, specs: Sequence[BucketSpec], deltas: Sequence[float], now: float
    ) -> tuple[float, ...]:
        await asyncio.sleep(0)
        return await self.inner.adjust(key, specs, deltas, now)

    async def lower_to(
        self, key: str, specs: Sequence[BucketSpec], ceilings: Sequence[float], now: float
    ) -> tuple[float, ...]:
        await asyncio.sleep(0)
        return await self.inner.lower_to(key, specs, ceilings, now)


mixed = st.lists(
    st.builds(
        Request,
        arrival=times,
        tokens=st.integers(0, 120),
        priority=st.integers(0, 3),
        patience=st.one_of(st.none(), st.floats(0.0, 15.0)),
        hold=st.sampled_from([0.0, 0.5, 3.0]),
        actual=st.one_of(st.none(), st.integers(0, 150)),
        cancel_after=st.one_of(st.none(), st.floats(0.0, 10.0)),
    ),
    max_size=30,
)


# Found by this property: a caller cancelled while asking the backend (on the fast path,
# before it queued) left a head that had arrived meanwhile asleep forever, unpoked.
_CANCELLED_WHILE_ASKING = [
    Request(arrival=0.0, tokens=36, hold=0.5),
    Request(
        arrival=2.284,
        tokens=12,
        priority=2,
        patience=5e-324,
        hold=0.5,
        actual=145,
        cancel_after=5e-324,
    ),
    Request(arrival=2.284, tokens=12, priority=2, actual=1),
]


@settings(max_examples=80, deadline=None)
@given(mixed, st.sampled_from([0.0, 0.5, 2.0]), st.booleans())
@example(_CANCELLED_WHILE_ASKING, 0.0, True)
def test_every_request_ends_exactly_once_and_no_expired_waiter_is_admitted(
    workload: list[Request], aging: float, yielding: bool
) -> None:
    """Conservation: every request ends exactly once (admitted, refused, expired or
    cancelled); none is admitted after its deadline and none is still waiting after it;
    at the end the line is empty and every concurrency slot is free. Holds with a backend
    that suspends inside each operation as well."""

    async def scenario() -> None:
        clock = VirtualClock()
        config = LimitsConfig(requests_per_second=2, tokens_per_minute=300, max_concurrency=2)
        backend = YieldingBackend() if yielding else MemoryBackend()
        limiter = Limiter("k", config, clock, backend, aging=aging)
        trace = await drive(limiter, clock, workload)
        assert sorted(trace.outcomes) == list(range(len(workload)))
        for index, outcomes in trace.outcomes.items():
            assert len(outcomes) == 1
            outcome = outcomes[0]
            request = workload[index]
            assert outcome.kind in {ADMITTED, REFUSED, EXPIRED, CANCELLED}
            if request.deadline is not None:
                assert outcome.time <= request.deadline + 1e-9
            if outcome.kind == CANCELLED:
                assert request.cancel_after is not None
            if outcome.kind in {REFUSED, EXPIRED}:
                assert request.deadline is not None
                assert outcome.wait is not None and outcome.wait >= 0
        snap = limiter.snapshot()
        assert (snap.waiters, snap.in_use) == (0, 0)

    run(scenario())


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0.0, 5.0), st.integers(-3, 3)), min_size=1, max_size=25),
    st.sampled_from([0.0, 0.3, 1.0, 4.0]),
)
def test_admission_order_is_effective_priority_then_arrival(
    arrivals: list[tuple[float, int]], aging: float
) -> None:
    """Waiters queued behind a busy slot are admitted in order of effective priority,
    priority + aging * (time waited), then arrival: FIFO among ties."""

    async def scenario() -> None:
        clock = VirtualClock()
        limiter = Limiter("k", LimitsConfig(max_concurrency=1), clock, aging=aging)
        plug = await limiter.acquire()
        order: list[int] = []

        async def one(index: int, arrival: float, priority: int) -> None:
            await clock.sleep(arrival)
            permit = await limiter.acquire(priority=priority)
            order.append(index)
            permit.release()

        tasks = [asyncio.create_task(one(i, t, p)) for i, (t, p) in enumerate(arrivals)]
        await clock.sleep(10)
        plug.release()
        await asyncio.gather(*tasks)
        # at time 10 every waiter's effective priority is p + aging * (10 - t)
        expected = sorted(
            range(len(arrivals)),
            key=lambda i: (aging * arrivals[i][0] - arrivals[i][1], arrivals[i][0], i),
        )
        assert order == expected

    run(scenario())


@settings(max_examples=30, deadline=None)
@given(
    st.integers(1, 6),
    st.sampled_from([0.5, 1.0, 3.0]),
    st.floats(0.0, 3.0),
)
def test_a_low_priority_waiter_is_admitted_within_a_bounded_time_under_a_high_priority_stream(
    high: int, aging: float, arrival: float
) -> None:
    """No starvation: a priority-0 waiter under an endless stream of priority-``high``
    requests arriving faster than the limiter admits (4/s against 2/s) is admitted by
    t_low + high/aging + (backlog + 1)/rate, where backlog counts the stream requests that
    arrive before it outranks them all."""
    rate, stream = 2.0, 4.0

    async def scenario() -> None:
        clock = VirtualClock()
        limiter = Limiter("k", LimitsConfig(requests_per_second=rate), clock, aging=aging)
        admitted_at: list[float] = []

        async def user(priority: int) -> None:
            (await limiter.acquire(priority=priority)).release()

        async def low() -> None:
            await clock.sleep(arrival)
            await user(0)
            admitted_at.append(clock.now())

        tasks = [asyncio.create_task(low())]
        outranked_at = arrival + high / aging
        while not admitted_at:
            tasks.append(asyncio.create_task(user(high)))
            await clock.sleep(1 / stream)
        backlog = stream * outranked_at + 1 + rate  # stream so far, plus the first burst
        assert admitted_at[0] <= arrival + high / aging + (backlog + 1) / rate
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        assert limiter.snapshot().waiters == 0

    run(scenario())


async def test_without_aging_a_low_priority_waiter_starves() -> None:
    """The counterpart of the bound above: with aging 0 the same stream keeps it out."""
    clock = VirtualClock()
    limiter = Limiter("k", LimitsConfig(requests_per_second=2), clock, aging=0.0)

    async def user(priority: int) -> None:
        (await limiter.acquire(priority=priority)).release()

    stream = []
    for step in range(400):
        if step == 8:
            low = asyncio.create_task(user(0))  # the bucket's burst is spent by now
        stream.append(asyncio.create_task(user(1)))
        await clock.sleep(0.25)
    assert not low.done()
    for task in [low, *stream]:
        task.cancel()
    await asyncio.gather(low, *stream, return_exceptions=True)


async def test_a_cancelled_head_consumes_nothing_and_the_next_waiter_goes_at_once() -> None:
    clock = VirtualClock()
    limiter = Limiter("k", LimitsConfig(tokens_per_minute=60), clock)
    (await limiter.acquire(tokens=60)).release()
    big = asyncio.create_task(limiter.acquire(tokens=60))  # would go at t=60
    await asyncio.sleep(0)
    small = asyncio.create_task(limiter.acquire(tokens=2))
    await clock.sleep(5)
    assert limiter.snapshot().waiters == 2
    big.cancel()
    (await small).release()
    assert clock.now() == 5.0
    assert limiter.snapshot().windows["tokens_per_minute"].available == pytest.approx(3.0)
    assert limiter.snapshot().waiters == 0


async def test_a_cancelled_acquire_never_leaks_a_concurrency_slot() -> None:
    clock = VirtualClock()
    limiter = Limiter("k", LimitsConfig(max_concurrency=2), clock)
    held = [await limiter.acquire(), await limiter.acquire()]
    waiting = [asyncio.create_task(limiter.acquire()) for _ in range(5)]
    await asyncio.sleep(0)
    for task in waiting:
        task.cancel()
    await asyncio.gather(*waiting, return_exceptions=True)
    for permit in held:
        permit.release()
        permit.release()  # idempotent
    assert limiter.snapshot().in_use == 0
    again = [await limiter.acquire(), await limiter.acquire()]
    assert clock.now() == 0.0
    assert limiter.snapshot().in_use == 2
    for permit in again:
        permit.release()


async def test_a_deadline_scope_around_acquire_leaves_the_line_cleanly() -> None:
    clock = VirtualClock()
    limiter = Limiter("k", LimitsConfig(requests_per_minute=1, max_concurrency=1), clock)
    (await limiter.acquire()).release()
    with pytest.raises(TimeoutError), deadline_scope(clock, 10.0):
        await limiter.acquire()
    snap = limiter.snapshot()
    assert (snap.waiters, snap.in_use) == (0, 0)
    assert snap.windows["requests_per_minute"].available == pytest.approx(10 / 60)


async def test_a_waiter_still_queued_at_its_deadline_is_refused_then() -> None:
    """The line ahead holds a concurrency slot (no estimate can see when it frees), so
    the waiter is let in and refused exactly at its deadline."""
    clock = VirtualClock()
    limiter = Limiter("k", LimitsConfig(max_concurrency=1), clock)
    held = await limiter.acquire()
    with pytest.raises(LimiterRefused) as refused:
        await limiter.acquire(deadline=7.0)
    assert clock.now() == 7.0
    assert refused.value.reason.startswith("deadline: still queued")
    held.release()
    assert limiter.snapshot().waiters == 0


async def test_on_wait_reports_how_long_an_admitted_request_waited() -> None:
    clock = VirtualClock()
    waits: list[float] = []
    limiter = Limiter("k", LimitsConfig(requests_per_second=1), clock, on_wait=waits.append)
    for _ in range(3):
        (await limiter.acquire()).release()
    assert waits == [1.0, 1.0]


async def test_a_failing_on_wait_does_not_lose_the_permit() -> None:
    clock = VirtualClock()

    def broken(_: float) -> None:
        raise RuntimeError("metrics sink down")

    limiter = Limiter(
        "k", LimitsConfig(requests_per_second=1, max_concurrency=1), clock, on_wait=broken
    )
    (await limiter.acquire()).release()
    permit = await limiter.acquire()
    assert limiter.snapshot().in_use == 1
    permit.release()
