"""MemoryCacheBackend: per-entry ttl on the injected clock, bounded size."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.cache import CacheBackend, MemoryCacheBackend
from patchwire.clock import VirtualClock

KEYS = ["a", "b", "c", "d", "e", "f"]

operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("set"),
            st.sampled_from(KEYS),
            st.integers(0, 1000),
            st.floats(min_value=0.001, max_value=10.0),
        ),
        st.tuples(st.just("get"), st.sampled_from(KEYS)),
        st.tuples(st.just("delete"), st.sampled_from(KEYS)),
        st.tuples(st.just("advance"), st.floats(min_value=0.0, max_value=4.0)),
    ),
    max_size=60,
)


def check_against_model(ops: list[tuple[object, ...]], max_entries: int, exact: bool) -> None:
    """Replay ``ops`` on a backend and on a dict of (value, expiry) with no size bound.

    The backend may forget an entry early (it evicts when full) but must never serve an
    expired or overwritten value, nor hold more than ``max_entries`` entries. With
    ``exact`` (room for every key) it must answer exactly like the model.
    """

    async def run() -> None:
        clock = VirtualClock(autojump=False)
        backend = MemoryCacheBackend(clock, max_entries=max_entries)
        model: dict[str, tuple[int, float]] = {}
        for op in ops:
            match op:
                case ("set", str(key), int(value), float(ttl)):
                    await backend.set(key, value, ttl)
                    model[key] = (value, clock.now() + ttl)
                case ("get", str(key)):
                    got = await backend.get(key)
                    alive = key in model and clock.now() < model[key][1]
                    expected = model[key][0] if alive else None
                    if exact:
                        assert got == expected
                    else:
                        assert got is None or got == expected
                case ("delete", str(key)):
                    await backend.delete(key)
                    model.pop(key, None)
                case ("advance", float(delta)):
                    clock.advance(delta)
            assert len(backend) <= max_entries

    asyncio.run(run())


@settings(max_examples=150, deadline=None)
@given(ops=operations, max_entries=st.integers(1, 4))
def test_never_serves_expired_or_stale_values_and_never_exceeds_max_entries(
    ops: list[tuple[object, ...]], max_entries: int
) -> None:
    """Invariants: len <= max_entries after every operation; a get never returns a value
    past its own ttl, nor one that was overwritten or deleted."""
    check_against_model(ops, max_entries, exact=False)


@settings(max_examples=100, deadline=None)
@given(ops=operations)
def test_with_room_for_every_key_each_entry_lives_exactly_its_ttl(
    ops: list[tuple[object, ...]],
) -> None:
    """Invariant: without size pressure, an entry is served until, and not at, set time + ttl."""
    check_against_model(ops, len(KEYS), exact=True)


async def test_each_entry_keeps_its_own_ttl() -> None:
    clock = VirtualClock(autojump=False)
    backend = MemoryCacheBackend(clock, default_ttl=5.0)
    await backend.set("short", "s", 1.0)
    await backend.set("long", "l", 100.0)
    await backend.set("default", "d")
    clock.advance(0.999)
    assert await backend.get("short") == "s"
    clock.advance(0.001)
    assert await backend.get("short") is None
    clock.advance(4.0)
    assert await backend.get("default") is None
    assert await backend.get("long") == "l"
    clock.advance(95.0)
    assert await backend.get("long") is None


async def test_a_non_positive_ttl_or_none_value_removes_the_entry() -> None:
    clock = VirtualClock(autojump=False)
    backend = MemoryCacheBackend(clock)
    await backend.set("k", "v", 10.0)
    await backend.set("k", "w", 0.0)
    assert await backend.get("k") is None
    await backend.set("k", "v", 10.0)
    await backend.set("k", None, 10.0)
    assert await backend.get("k") is None


async def test_least_recently_used_entry_goes_first_when_full() -> None:
    clock = VirtualClock(autojump=False)
    backend = MemoryCacheBackend(clock, max_entries=2)
    await backend.set("a", 1, 10.0)
    await backend.set("b", 2, 10.0)
    assert await backend.get("a") == 1
    await backend.set("c", 3, 10.0)
    assert await backend.get("b") is None
    assert await backend.get("a") == 1
    assert await backend.get("c") == 3


def test_it_is_a_cache_backend() -> None:
    backend: CacheBackend = MemoryCacheBackend(VirtualClock())
    assert backend is not None


@pytest.mark.parametrize(("max_entries", "default_ttl"), [(0, 1.0), (1, 0.0), (1, -1.0)])
def test_bad_settings_are_refused(max_entries: int, default_ttl: float) -> None:
    with pytest.raises(ValueError):
        MemoryCacheBackend(VirtualClock(), max_entries=max_entries, default_ttl=default_ttl)


async def test_when_full_expired_entries_go_before_the_least_recently_used() -> None:
    clock = VirtualClock(autojump=False)
    backend = MemoryCacheBackend(clock, max_entries=2)
    await backend.set("old", 1, 100.0)  # least recently used, still alive
    await backend.set("brief", 2, 1.0)
    clock.advance(1.0)
    await backend.set("new", 3, 100.0)  # the write sweeps "brief" out: room without evicting
    assert len(backend) == 2
    assert await backend.get("old") == 1
    assert await backend.get("new") == 3


async def test_a_rewrite_counts_as_a_use_and_an_expired_read_is_dropped() -> None:
    clock = VirtualClock(autojump=False)
    backend = MemoryCacheBackend(clock, max_entries=2)
    await backend.set("a", 1, 10.0)
    await backend.set("b", 2, 10.0)
    await backend.set("a", 11, 10.0)  # "a" is now the most recently used
    await backend.set("c", 3, 10.0)
    assert await backend.get("b") is None
    assert await backend.get("a") == 11
    clock.advance(10.0)
    assert await backend.get("c") is None
    assert len(backend) == 1  # "c" went when read past its ttl


async def test_overwritten_keys_do_not_grow_the_expiry_heap_without_bound() -> None:
    clock = VirtualClock(autojump=False)
    backend = MemoryCacheBackend(clock, max_entries=10)
    for n in range(1000):
        await backend.set(f"k{n % 3}", n, 50.0 + n)  # later expiries: nothing is swept
    assert len(backend) == 3
    assert len(backend._expiries) <= 2 * 3 + 17
    assert [await backend.get(f"k{n}") for n in range(3)] == [999, 997, 998]
    clock.advance(1048.0)  # k1 (expires 1047) and k2 (1048) are gone, k0 (1049) is not
    await backend.set("x", 0, 1.0)
    assert len(backend) == 2
    assert await backend.get("k0") == 999
