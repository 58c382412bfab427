"""The synchronous admission (``Limiter.admit``): taken only when nothing binds, and then
exactly what the awaited path would have decided."""

from __future__ import annotations

import asyncio
from functools import partial

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.clock import VirtualClock
from patchwire.limiter import Limiter, LimiterRefused, LimitsConfig, MemoryBackend, RateLimitInfo

from .test_admission import configs
from .test_queue import mixed as workloads
from .workload import Request, Trace, drive, run, times


class Awaited(MemoryBackend):
    """The same buckets, but not the in-process class itself: the limiter asks it through
    the awaited backend protocol every time, as it would a remote store."""


# provider signals at given instants: a 429 (its Retry-After), a success, rate-limit headers
signals = st.lists(
    st.tuples(
        times,
        st.one_of(
            st.tuples(st.just("429"), st.one_of(st.none(), st.floats(0.0, 5.0))),
            st.tuples(st.just("success"), st.none()),
            st.tuples(st.just("requests"), st.floats(0.0, 3.0)),
            st.tuples(st.just("tokens"), st.floats(0.0, 90.0)),
        ),
    ),
    max_size=6,
)


def traced(
    config: LimitsConfig,
    backend: MemoryBackend,
    workload: list[Request],
    signaled: list[tuple[float, tuple[str, float | None]]],
) -> Trace:
    async def scenario() -> Trace:
        clock = VirtualClock()
        limiter = Limiter("k", config, clock, backend)

        def signal(kind: str, value: float | None) -> None:
            if kind == "429":
                limiter.on_rate_limited(value)
            elif kind == "success":
                limiter.on_success()
            elif kind == "requests":
                limiter.observe(RateLimitInfo(requests_remaining=value, requests_reset=20.0))
            else:
                limiter.observe(RateLimitInfo(tokens_remaining=value, tokens_reset=30.0))

        for when, (kind, value) in signaled:
            clock.call_at(when, partial(signal, kind, value))
        return await drive(limiter, clock, workload)

    return run(scenario())


@settings(max_examples=100, deadline=None)
@given(configs, workloads, signals)
def test_the_synchronous_path_decides_exactly_as_the_awaited_one(
    config: LimitsConfig,
    workload: list[Request],
    signaled: list[tuple[float, tuple[str, float | None]]],
) -> None:
    """Every outcome, admission instant, charge and level after a charge is the same
    whether admissions that need not wait skip the backend protocol or go through it,
    with 429s, successes and provider headers arriving in between."""
    fast = traced(config, MemoryBackend(), workload, signaled)
    awaited = traced(config, Awaited(), workload, signaled)
    assert fast == awaited


def test_admit_answers_only_for_the_in_process_backend_itself() -> None:
    clock = VirtualClock()
    config = LimitsConfig(requests_per_second=5)
    assert Limiter("k", config, clock, Awaited()).admit() is None
    permit = Limiter("k", config, clock, MemoryBackend()).admit()
    assert permit is not None and permit.waited == 0.0


async def test_admit_charges_what_acquire_would_and_refuses_what_must_wait() -> None:
    clock = VirtualClock()
    backend = MemoryBackend()
    limiter = Limiter(
        "k", LimitsConfig(requests_per_second=2, tokens_per_minute=60), clock, backend
    )
    first = limiter.admit(tokens=20)
    assert first is not None
    windows = limiter.snapshot().windows
    assert (windows["requests_per_second"].available, windows["tokens_per_minute"].available) == (
        1.0,
        40.0,
    )
    # a request no window can ever hold, a negative one, a passed deadline: no answer here,
    # and acquire refuses each as before, having charged nothing
    assert limiter.admit(tokens=61) is None
    with pytest.raises(LimiterRefused, match="exceeds tokens_per_minute capacity 60"):
        await limiter.acquire(tokens=61)
    assert limiter.admit(tokens=-1) is None
    with pytest.raises(ValueError):
        await limiter.acquire(tokens=-1)
    clock.advance(0.5)
    assert limiter.admit(deadline=0.25) is None
    assert limiter.snapshot().windows["tokens_per_minute"].available == pytest.approx(40.5)
    # the token window lacks room: nothing is charged, not even on the request window
    assert limiter.admit(tokens=50) is None
    assert limiter.snapshot().windows["requests_per_second"].available == 2.0
    await first.reconcile(10)  # settles the token window as before
    assert limiter.snapshot().windows["tokens_per_minute"].available == pytest.approx(50.5)
    assert limiter.admit(tokens=50) is not None


async def test_a_woken_waiter_is_not_overtaken_by_a_newcomer() -> None:
    """A release wakes the head of the line; until it has run, admit answers None, so a
    newcomer queues behind it rather than taking the freed slot."""
    clock = VirtualClock()
    limiter = Limiter("k", LimitsConfig(requests_per_second=100, max_concurrency=1), clock)
    held = limiter.admit()
    assert held is not None
    assert limiter.admit() is None  # the only slot is taken
    waiter = asyncio.ensure_future(limiter.acquire(priority=0))
    await asyncio.sleep(0)
    assert limiter.snapshot().waiters == 1
    held.release()
    assert limiter.admit() is None  # the slot is free, but the line goes first
    (await waiter).release()
    snap = limiter.snapshot()
    assert (snap.in_use, snap.waiters) == (0, 0)
    assert limiter.admit() is not None


async def test_admit_follows_adaptation() -> None:
    """A 429's Retry-After holds admit, the halved rate refills the bucket after it, and
    provider headers not yet applied send the request through the awaited path."""
    clock = VirtualClock()
    limiter = Limiter("k", LimitsConfig(requests_per_second=4), clock)
    for _ in range(4):
        assert limiter.admit() is not None
    limiter.on_rate_limited(retry_after=1.0)
    assert limiter.admit() is None
    clock.advance(1.0)  # 1 s at the halved rate (2/s): two requests' worth
    assert limiter.admit() is not None
    assert limiter.admit() is not None
    assert limiter.admit() is None
    clock.advance(10.0)
    limiter.observe(RateLimitInfo(requests_limit=4, requests_remaining=1, requests_reset=60))
    assert limiter.admit() is None  # the ceiling is applied by the awaited path first
    (await limiter.acquire()).release()
    assert limiter.snapshot().windows["requests_per_second"].available == 0.0
    assert limiter.admit() is None


async def test_a_concurrency_only_limiter_keeps_no_buckets() -> None:
    clock = VirtualClock()
    backend = MemoryBackend()
    limiter = Limiter("k", LimitsConfig(max_concurrency=2), clock, backend)
    permits = [limiter.admit(tokens=10**9), limiter.admit()]
    assert None not in permits
    assert limiter.admit() is None
    for permit in permits:
        assert permit is not None
        permit.release()
        permit.release()  # a second release frees nothing
    assert limiter.snapshot().in_use == 0
    assert repr(backend) == "MemoryBackend(keys=0)"
