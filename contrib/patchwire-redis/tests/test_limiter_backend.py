"""RedisLimiterBackend against a real Redis: MemoryBackend's semantics, atomic per script,
timed by the server, and all-or-nothing for cancelled callers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.errors import TransientError
from patchwire.limiter import AcquireResult, BucketSpec, MemoryBackend
from patchwire_redis.limiter import RedisLimiterBackend

Script = list[tuple[float, str, list[float]]]

WINDOWS = [("a", 5.0, 1.0), ("b", 20.0, 0.5), ("c", 100.0, 10.0)]
SPECS = [BucketSpec(name, cap, rate) for name, cap, rate in WINDOWS]

steps = st.lists(
    st.tuples(
        st.floats(min_value=0.0, max_value=5.0, allow_nan=False),  # time passing first
        st.sampled_from(["take", "adjust", "lower"]),
        st.lists(
            st.floats(min_value=-30.0, max_value=120.0, allow_nan=False), min_size=3, max_size=3
        ),
    ),
    max_size=30,
)

Backend = RedisLimiterBackend | MemoryBackend


async def peek(backend: Backend, now: float, key: str = "k") -> tuple[float, ...]:
    # a zero cost take changes nothing but returns the levels
    return (await backend.try_acquire(key, SPECS, [0.0, 0.0, 0.0], now)).levels


async def apply(backend: Backend, kind: str, amounts: list[float], now: float) -> object:
    if kind == "take":
        return await backend.try_acquire("k", SPECS, [abs(a) for a in amounts], now)
    if kind == "adjust":
        return await backend.adjust("k", SPECS, amounts, now)
    return await backend.lower_to("k", SPECS, amounts, now)


def run_on(url: str, scenario: Callable[[RedisLimiterBackend], Awaitable[None]]) -> None:
    """Run ``scenario`` on a fresh caller-timed backend and prefix (hypothesis examples
    share one test's fixtures, so each draws its own namespace)."""

    async def main() -> None:
        backend = RedisLimiterBackend(
            url, prefix=f"pwprop{uuid.uuid4().hex[:12]}", time_source="caller"
        )
        try:
            await scenario(backend)
        finally:
            await backend.aclose()

    asyncio.run(main())


@settings(max_examples=60, deadline=None)
@given(steps)
def test_every_operation_computes_exactly_what_the_memory_backend_computes(
    redis_server: Any, script: Script
) -> None:
    """Equivalence: on caller time, any sequence of take/adjust/lower gives bit-for-bit
    the results MemoryBackend gives (admission, wait and every level), so every property
    proven of the memory backend holds for the Lua scripts."""

    async def scenario(backend: RedisLimiterBackend) -> None:
        memory = MemoryBackend()
        now = 0.0
        for dt, kind, amounts in script:
            now += dt
            assert await apply(backend, kind, amounts, now) == await apply(
                memory, kind, amounts, now
            )
        assert await peek(backend, now + 1e4) == await peek(memory, now + 1e4)

    run_on(redis_server.url, scenario)


@settings(max_examples=60, deadline=None)
@given(steps)
def test_refusal_charges_no_window_and_admission_charges_every_window(
    redis_server: Any, script: Script
) -> None:
    """Multi-window atomicity: a refused take leaves every window's level as it was; an
    admitted one lowers each by exactly its cost. Levels stay <= capacity, and below 0
    only through adjust or lower (debt)."""

    async def scenario(backend: RedisLimiterBackend) -> None:
        now = 0.0
        debt_possible = False
        for dt, kind, amounts in script:
            now += dt
            before = await peek(backend, now)
            if kind == "take":
                costs = [
                    abs(a) % (cap + 1) for a, (_, cap, _) in zip(amounts, WINDOWS, strict=True)
                ]
                result = await backend.try_acquire("k", SPECS, costs, now)
                after = await peek(backend, now)
                if result.ok:
                    assert all(
                        b >= c - 1e-9 * cap
                        for b, c, (_, cap, _) in zip(before, costs, WINDOWS, strict=True)
                    )
                    for b, a, c in zip(before, after, costs, strict=True):
                        assert a == max(0.0, b - c) or (b < 0 and a == b - c)
                else:
                    assert after == before
                    assert result.wait > 0
                    assert any(b < c for b, c in zip(before, costs, strict=True))
            elif kind == "adjust":
                await backend.adjust("k", SPECS, amounts, now)
                debt_possible = True
            else:
                await backend.lower_to("k", SPECS, amounts, now)
                debt_possible = debt_possible or min(amounts) < 0
            for level, (_, cap, _) in zip(await peek(backend, now), WINDOWS, strict=True):
                assert level <= cap
                assert debt_possible or level >= 0

    run_on(redis_server.url, scenario)


@settings(max_examples=40, deadline=None)
@given(steps, st.floats(min_value=0.0, max_value=50.0))
def test_idle_refill_restores_exactly_capacity(
    redis_server: Any, script: Script, extra: float
) -> None:
    """After any history, idling long enough to repay everything leaves every window at
    exactly its capacity, never more."""

    async def scenario(backend: RedisLimiterBackend) -> None:
        now = 0.0
        for dt, kind, amounts in script:
            now += dt
            await apply(backend, kind, amounts, now)
        levels = await peek(backend, now)
        idle = max(
            (cap - level) / rate for level, (_, cap, rate) in zip(levels, WINDOWS, strict=True)
        )
        assert await peek(backend, now + idle * (1 + 1e-9) + 1e-9 + extra) == tuple(
            cap for _, cap, _ in WINDOWS
        )

    run_on(redis_server.url, scenario)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(min_value=0.0, max_value=5.0), min_size=3, max_size=3),
    st.lists(st.floats(min_value=0.0, max_value=5.0), min_size=3, max_size=3),
    st.integers(min_value=0, max_value=12),
)
def test_a_cancelled_take_leaves_every_window_as_it_was(
    redis_server: Any, first: list[float], costs: list[float], ticks: int
) -> None:
    """Cancellation is all-or-nothing: a take cancelled after any number of loop turns
    (before the script is sent, while the server runs it, after it answered) leaves the
    levels where they were once the backend has settled (up to the slack's rounding)."""

    async def scenario(backend: RedisLimiterBackend) -> None:
        await backend.try_acquire("k", SPECS, first, 0.0)
        before = await peek(backend, 0.0)
        task = asyncio.create_task(backend.try_acquire("k", SPECS, costs, 0.0))
        for _ in range(ticks):
            await asyncio.sleep(0)
        task.cancel()
        try:
            result = await task
        except asyncio.CancelledError:
            pass
        else:
            # it finished before the cancel arrived: then it counts, and is given back here
            if result.ok:
                await backend.adjust("k", SPECS, [-c for c in costs], 0.0)
        while backend._tasks:
            await asyncio.gather(*backend._tasks)
        after = await peek(backend, 0.0)
        assert after == pytest.approx(before, abs=1e-6)

    run_on(redis_server.url, scenario)


async def test_a_cancelled_settlement_still_reaches_the_server(redis_url: str, prefix: str) -> None:
    backend = RedisLimiterBackend(redis_url, prefix=prefix, time_source="caller")
    try:
        task = asyncio.create_task(backend.adjust("k", SPECS, [3.0, 0.0, 0.0], 0.0))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        while backend._tasks:
            await asyncio.gather(*backend._tasks)
        assert (await peek(backend, 0.0))[0] == 2.0
    finally:
        await backend.aclose()


async def test_a_take_reports_the_wait_until_every_window_allows(
    redis_url: str, prefix: str
) -> None:
    backend = RedisLimiterBackend(redis_url, prefix=prefix, time_source="caller")
    try:
        assert (await backend.try_acquire("k", SPECS, [5.0, 0.0, 0.0], 0.0)).ok
        result = await backend.try_acquire("k", SPECS, [2.0, 20.0, 0.0], 0.0)
        assert result == AcquireResult(False, 2.0, (0.0, 20.0, 100.0))
        assert (await backend.try_acquire("k", SPECS, [2.0, 20.0, 0.0], 2.0)).ok
        never = await backend.try_acquire("k", [BucketSpec("z", 1.0, 0.0)], [1.0], 0.0)
        assert never.ok
        assert (await backend.try_acquire("k", [BucketSpec("z", 1.0, 0.0)], [1.0], 9.0)).wait == (
            float("inf")
        )
    finally:
        await backend.aclose()


async def test_keys_and_prefixes_are_independent(redis_url: str, prefix: str) -> None:
    one = RedisLimiterBackend(redis_url, prefix=prefix, time_source="caller")
    other = RedisLimiterBackend(redis_url, prefix=prefix + "x", time_source="caller")
    try:
        assert (await one.try_acquire("x", SPECS, [5.0, 0.0, 0.0], 0.0)).ok
        assert (await one.try_acquire("y", SPECS, [5.0, 0.0, 0.0], 0.0)).ok
        assert (await other.try_acquire("x", SPECS, [5.0, 0.0, 0.0], 0.0)).ok
        assert not (await one.try_acquire("x", SPECS, [1.0, 0.0, 0.0], 0.0)).ok
        assert one.keys("x", SPECS[:1]) == [f"{prefix}:limit:{{x}}:a"]
    finally:
        await one.aclose()
        await other.aclose()


async def test_a_server_that_forgot_the_script_is_sent_it_again(
    redis_url: str, prefix: str
) -> None:
    backend = RedisLimiterBackend(redis_url, prefix=prefix, time_source="caller")
    try:
        assert (await backend.try_acquire("k", SPECS, [1.0, 0.0, 0.0], 0.0)).ok
        await backend._client.script_flush()
        assert (await backend.try_acquire("k", SPECS, [1.0, 0.0, 0.0], 0.0)).levels[0] == 3.0
    finally:
        await backend.aclose()


async def test_server_time_ignores_the_callers_clock(redis_url: str, prefix: str) -> None:
    """Processes' monotonic clocks disagree, so a caller's ``now`` must not refill."""
    backend = RedisLimiterBackend(redis_url, prefix=prefix)
    slow = [BucketSpec("w", 2.0, 1e-6)]
    try:
        assert (await backend.try_acquire("k", slow, [2.0], 0.0)).ok
        refused = await backend.try_acquire("k", slow, [1.0], 1e9)
        assert not refused.ok
        assert refused.wait > 1e5
    finally:
        await backend.aclose()


@pytest.mark.integration
async def test_server_time_refills_as_real_time_passes(redis_url: str, prefix: str) -> None:
    """Real time: the refill under test is the Redis server's clock advancing."""
    backend = RedisLimiterBackend(redis_url, prefix=prefix)
    # One token per 0.5 s: the refusal right after the burst holds unless the machine stalls
    # for half a second between two awaits (at 20 per second a loaded machine did).
    fast = [BucketSpec("w", 2.0, 2.0)]
    try:
        assert (await backend.try_acquire("k", fast, [2.0], 0.0)).ok
        refused = await backend.try_acquire("k", fast, [1.0], 0.0)
        assert not refused.ok
        assert 0.0 < refused.wait <= 0.5
        await asyncio.sleep(refused.wait + 0.05)
        assert (await backend.try_acquire("k", fast, [1.0], 0.0)).ok
    finally:
        await backend.aclose()


async def test_an_outage_fails_admissions_and_settlements_as_transient_errors(
    own_redis: Callable[[], Any], prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing is swallowed: every operation raises its classified error, which the
    pipeline handles (retry for an admission, a limiter_settle_failed event for a
    settlement: see test_hub.py)."""
    server = own_redis()
    backend = RedisLimiterBackend(server.url, prefix=prefix)
    try:
        assert (await backend.try_acquire("k", SPECS, [1.0, 0.0, 0.0], 0.0)).ok
        server.kill()
        with pytest.raises(TransientError, match="unreachable"):
            await backend.try_acquire("k", SPECS, [1.0, 0.0, 0.0], 0.0)
        with pytest.raises(TransientError, match="unreachable"):
            await backend.adjust("k", SPECS, [1.0, 1.0, 1.0], 0.0)
        with pytest.raises(TransientError, match="unreachable"):
            await backend.lower_to("k", SPECS, [3.0, 30.0, 0.0], 0.0)
        assert [r.levelname for r in caplog.records if r.name == "patchwire.redis"] == ["WARNING"]
        server.start()
        assert (await backend.try_acquire("k", SPECS, [1.0, 0.0, 0.0], 0.0)).ok
        assert "answers again" in caplog.records[-1].getMessage()
    finally:
        await backend.aclose()
