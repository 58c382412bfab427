"""Adaptation: provider headers, 429s (multiplicative decrease) and successes (additive increase)."""

from __future__ import annotations

import asyncio
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.clock import VirtualClock
from patchwire.limiter import AdaptivePolicy, Limiter, LimiterRefused, LimitsConfig, RateLimitInfo

from .workload import run


async def admissions(limiter: Limiter, clock: VirtualClock, n: int, tokens: int = 0) -> list[float]:
    out = []
    for _ in range(n):
        (await limiter.acquire(tokens=tokens)).release()
        out.append(clock.now())
    return out


async def test_remaining_zero_holds_the_next_request_until_the_reset() -> None:
    """The provider says its one request is spent and comes back in 5 s: the next one waits
    the full 5 s, although the configured 60/min would have let it go at once."""
    clock = VirtualClock()
    limiter = Limiter("k", LimitsConfig(requests_per_minute=60), clock)
    limiter.observe(RateLimitInfo(requests_limit=1, requests_remaining=0, requests_reset=5))
    assert limiter.snapshot().windows["requests_per_minute"].available == 0
    assert await admissions(limiter, clock, 1) == [5.0]


async def test_a_slower_provider_pace_is_followed_until_its_reset() -> None:
    """600 tokens/min configured (10/s); the provider has 0 of 600 left and restores them
    in 120 s (5/s). A whole-capacity request waits until exactly the reset; afterwards the
    configured rate applies again."""
    clock = VirtualClock()
    limiter = Limiter("k", LimitsConfig(tokens_per_minute=600), clock)
    limiter.observe(RateLimitInfo(tokens_limit=600, tokens_remaining=0, tokens_reset=120))
    assert limiter.snapshot().windows["tokens_per_minute"].rate == 5.0
    assert await admissions(limiter, clock, 1, tokens=600) == [120.0]
    assert limiter.snapshot().windows["tokens_per_minute"].rate == 10.0
    assert await admissions(limiter, clock, 1, tokens=100) == [130.0]


async def test_a_faster_provider_pace_and_a_larger_remaining_change_nothing() -> None:
    clock = VirtualClock()
    limiter = Limiter("k", LimitsConfig(requests_per_minute=60), clock)
    (await limiter.acquire()).release()
    limiter.observe(RateLimitInfo(requests_limit=600, requests_remaining=500, requests_reset=1))
    window = limiter.snapshot().windows["requests_per_minute"]
    assert (window.available, window.rate) == (59, 1.0)


async def test_headers_adjust_the_window_whose_capacity_matches_the_provider_limit() -> None:
    clock = VirtualClock()
    config = LimitsConfig(requests_per_second=10, requests_per_minute=500, requests_per_day=10000)
    limiter = Limiter("k", config, clock)
    info = RateLimitInfo(requests_limit=480, requests_remaining=3, requests_reset=60)
    limiter.observe(info)
    snap = limiter.snapshot()
    assert snap.windows["requests_per_minute"].available == 3
    assert snap.windows["requests_per_minute"].rate == pytest.approx(477 / 60)
    assert snap.windows["requests_per_second"].available == 10
    assert snap.windows["requests_per_day"].available == 10000
    assert snap.reported == info
    # without a limit the shortest window of the kind takes the news
    limiter.observe(RateLimitInfo(requests_remaining=2, requests_reset=-1))
    assert limiter.snapshot().windows["requests_per_second"].available == 2
    # counts of -1 mean "unknown"
    limiter.observe(RateLimitInfo(requests_remaining=-1))
    assert limiter.snapshot().windows["requests_per_second"].available == 2
    # two left in the second window, then its own 10/s pace
    assert await admissions(limiter, clock, 4) == pytest.approx([0.0, 0.0, 0.1, 0.2])


infos = st.builds(
    RateLimitInfo,
    requests_limit=st.one_of(st.none(), st.floats(1, 1000)),
    requests_remaining=st.one_of(st.none(), st.floats(-1, 1000)),
    requests_reset=st.one_of(st.none(), st.floats(-1, 600)),
    tokens_limit=st.one_of(st.none(), st.floats(1, 10**6)),
    tokens_remaining=st.one_of(st.none(), st.floats(-1, 10**6)),
    tokens_reset=st.one_of(st.none(), st.floats(-1, 600)),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 30), infos), max_size=8))
def test_provider_headers_only_ever_tighten(
    observations: list[tuple[float, RateLimitInfo]],
) -> None:
    """observe() never raises a window's available amount and never sets a rate above the
    configured one; a window's level stays within [0, capacity]."""

    async def scenario() -> None:
        clock = VirtualClock()
        config = LimitsConfig(
            requests_per_second=5, requests_per_minute=200, tokens_per_minute=9000
        )
        limiter = Limiter("k", config, clock)
        configured = {w.name: w for w in config.windows()}
        for pause, info in observations:
            await clock.sleep(pause)
            (await limiter.acquire(tokens=10)).release()
            before = limiter.snapshot().windows
            limiter.observe(info)
            after = limiter.snapshot().windows
            for name, window in after.items():
                assert window.available <= before[name].available
                assert 0 <= window.available <= window.capacity
                assert window.rate <= configured[name].rate

    run(scenario())


async def test_a_429_holds_admissions_until_retry_after_and_halves_the_rate() -> None:
    clock = VirtualClock()
    limiter = Limiter("k", LimitsConfig(requests_per_second=1), clock)
    assert await admissions(limiter, clock, 3) == [0.0, 1.0, 2.0]
    limiter.on_rate_limited(3.0)
    snap = limiter.snapshot()
    assert (snap.factor, snap.blocked_until) == (0.5, 5.0)
    assert snap.windows["requests_per_second"].rate == 0.5
    assert await admissions(limiter, clock, 3) == [5.0, 7.0, 9.0]
    for _ in range(16):
        limiter.on_success()
    assert limiter.snapshot().factor == 1.0
    assert await admissions(limiter, clock, 2) == [10.0, 11.0]


async def test_a_deadline_before_the_retry_after_is_refused_at_once() -> None:
    clock = VirtualClock()
    limiter = Limiter("k", LimitsConfig(requests_per_second=1), clock)
    limiter.on_rate_limited(10.0)
    with pytest.raises(LimiterRefused) as refused:
        await limiter.acquire(deadline=4.0)
    assert clock.now() == 0.0
    assert refused.value.wait == 10.0


async def test_a_429_wakes_and_re_times_a_waiting_head() -> None:
    clock = VirtualClock()
    limiter = Limiter("k", LimitsConfig(requests_per_second=1), clock)
    (await limiter.acquire()).release()
    waiting = asyncio.create_task(limiter.acquire())
    await clock.sleep(0.5)
    limiter.on_rate_limited(2.0)
    (await waiting).release()
    assert clock.now() == 2.5


@settings(max_examples=200, deadline=None)
@given(st.lists(st.booleans(), max_size=60))
def test_the_adaptive_factor_stays_between_floor_and_one_and_recovers_in_bounded_steps(
    signals: list[bool],
) -> None:
    """For any sequence of 429s (False) and successes (True) the factor stays in
    [floor, 1]; each 429 halves it (down to the floor); ceil((1 - floor) / increase)
    successes always bring it back to 1."""
    policy = AdaptivePolicy()

    async def scenario() -> None:
        clock = VirtualClock()
        limiter = Limiter("k", LimitsConfig(tokens_per_minute=100), clock, adaptive=policy)
        for success in signals:
            before = limiter.snapshot().factor
            if success:
                limiter.on_success()
                assert limiter.snapshot().factor == min(1.0, before + policy.increase)
            else:
                limiter.on_rate_limited(None)
                assert limiter.snapshot().factor == max(policy.floor, before * policy.decrease)
            factor = limiter.snapshot().factor
            assert policy.floor <= factor <= 1.0
            assert limiter.snapshot().windows["tokens_per_minute"].rate == pytest.approx(
                100 / 60 * factor
            )
        for _ in range(math.ceil((1 - policy.floor) / policy.increase)):
            limiter.on_success()
        assert limiter.snapshot().factor == 1.0

    run(scenario())


def test_policy_fractions_are_validated() -> None:
    with pytest.raises(ValueError, match="floor"):
        AdaptivePolicy(floor=0)
    with pytest.raises(ValueError, match="decrease"):
        AdaptivePolicy(decrease=1.5)
