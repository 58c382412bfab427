"""MemoryBackend: atomic multi-window charges, levels within bounds, exact idle refill."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.limiter import BucketSpec, MemoryBackend

Script = list[tuple[float, str, list[float]]]

WINDOWS = [("a", 5.0, 1.0), ("b", 20.0, 0.5), ("c", 100.0, 10.0)]

steps = st.lists(
    st.tuples(
        st.floats(min_value=0.0, max_value=5.0, allow_nan=False),  # time passing first
        st.sampled_from(["take", "adjust", "lower"]),
        st.lists(
            st.floats(min_value=-30.0, max_value=120.0, allow_nan=False), min_size=3, max_size=3
        ),
    ),
    max_size=40,
)


SPECS = [BucketSpec(name, cap, rate) for name, cap, rate in WINDOWS]


async def peek(backend: MemoryBackend, now: float) -> tuple[float, ...]:
    # a zero cost take changes nothing but returns the levels
    return (await backend.try_acquire("k", SPECS, [0.0, 0.0, 0.0], now)).levels


@settings(max_examples=150, deadline=None)
@given(steps)
def test_refusal_charges_no_window_and_admission_charges_every_window(script: Script) -> None:
    """Multi-window atomicity: a refused take leaves every window's level as it was; an
    admitted one lowers each by exactly its cost. Levels stay <= capacity, and below 0
    only through adjust (debt)."""

    async def scenario() -> None:
        backend = MemoryBackend()
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

    asyncio.run(scenario())


@settings(max_examples=100, deadline=None)
@given(steps, st.floats(min_value=0.0, max_value=50.0))
def test_idle_refill_restores_exactly_capacity(script: Script, extra: float) -> None:
    """After any history, idling long enough to repay everything leaves every window at
    exactly its capacity, never more."""

    async def scenario() -> None:
        backend = MemoryBackend()
        now = 0.0
        for dt, kind, amounts in script:
            now += dt
            if kind == "take":
                await backend.try_acquire("k", SPECS, [abs(a) for a in amounts], now)
            elif kind == "adjust":
                await backend.adjust("k", SPECS, amounts, now)
            else:
                await backend.lower_to("k", SPECS, amounts, now)
        levels = await peek(backend, now)
        idle = max(
            (cap - level) / rate for level, (_, cap, rate) in zip(levels, WINDOWS, strict=True)
        )
        # a hair more than the exact repayment time, which rounding can leave a ulp short
        assert await peek(backend, now + idle * (1 + 1e-9) + 1e-9 + extra) == tuple(
            cap for _, cap, _ in WINDOWS
        )

    asyncio.run(scenario())


async def test_a_take_reports_the_wait_until_every_window_allows() -> None:
    backend = MemoryBackend()
    assert (await backend.try_acquire("k", SPECS, [5.0, 0.0, 0.0], 0.0)).ok
    result = await backend.try_acquire("k", SPECS, [2.0, 20.0, 0.0], 0.0)
    assert not result.ok
    assert result.wait == 2.0  # window a refills 1/s; b is full
    assert result.levels == (0.0, 20.0, 100.0)
    assert (await backend.try_acquire("k", SPECS, [2.0, 20.0, 0.0], 2.0)).ok


async def test_keys_are_independent() -> None:
    backend = MemoryBackend()
    assert (await backend.try_acquire("x", SPECS, [5.0, 0.0, 0.0], 0.0)).ok
    assert (await backend.try_acquire("y", SPECS, [5.0, 0.0, 0.0], 0.0)).ok
    assert not (await backend.try_acquire("x", SPECS, [1.0, 0.0, 0.0], 0.0)).ok
