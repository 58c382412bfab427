"""ResponseCache: single-flight, errors never cached, cancellation-safe, TTL on the clock."""

from __future__ import annotations

import asyncio
import gc
from collections import Counter
from collections.abc import Awaitable, Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.cache import MemoryCacheBackend, ResponseCache, entry_shape, is_vector
from patchwire.clock import VirtualClock


class Upstream:
    """A scripted upstream: counts calls, takes ``duration`` on the clock, may fail."""

    def __init__(self, clock: VirtualClock, duration: float = 1.0) -> None:
        self.clock = clock
        self.duration = duration
        self.calls: Counter[str] = Counter()
        self.finished: Counter[str] = Counter()
        self.cancelled: Counter[str] = Counter()
        self.fail_with: BaseException | None = None

    def __call__(self, key: str) -> Callable[[], Awaitable[str]]:
        async def call() -> str:
            self.calls[key] += 1
            try:
                await self.clock.sleep(self.duration)
            except asyncio.CancelledError:
                self.cancelled[key] += 1
                raise
            if self.fail_with is not None:
                raise self.fail_with
            self.finished[key] += 1
            return f"value-{key}-{self.calls[key]}"

        return call


def make(ttl: float = 60.0, duration: float = 1.0) -> tuple[VirtualClock, ResponseCache, Upstream]:
    clock = VirtualClock()
    return clock, ResponseCache(MemoryCacheBackend(clock), ttl=ttl), Upstream(clock, duration)


async def settle() -> None:
    """Let callbacks and just-cancelled tasks run to completion (no virtual time passes)."""
    for _ in range(5):
        await asyncio.sleep(0)


@settings(max_examples=60, deadline=None)
@given(
    arrivals=st.lists(
        st.tuples(st.sampled_from("abc"), st.floats(min_value=0.0, max_value=5.0)),
        min_size=1,
        max_size=25,
    )
)
def test_each_key_is_called_upstream_exactly_once(arrivals: list[tuple[str, float]]) -> None:
    """Invariant: with a ttl longer than the run, every key costs one upstream call however
    many callers ask and whenever they arrive (during the call: they join it; after: the
    cache answers); every caller gets that key's value; exactly one caller per key misses;
    no flight remains."""

    async def run() -> None:
        clock, cache, upstream = make(ttl=1000.0, duration=1.0)

        async def request(key: str, at: float) -> tuple[str, object, bool]:
            await clock.sleep(at)
            value, hit = await cache.get_or_call(key, upstream(key))
            return key, value, hit

        results = await asyncio.gather(*(request(k, at) for k, at in arrivals))
        keys = {k for k, _ in arrivals}
        assert upstream.calls == Counter(dict.fromkeys(keys, 1))
        for key, value, _ in results:
            assert value == f"value-{key}-1"
        misses = Counter(key for key, _, hit in results if not hit)
        assert misses == Counter(dict.fromkeys(keys, 1))
        assert cache.in_flight() == 0

    asyncio.run(run())


async def test_k_concurrent_identical_requests_share_one_call() -> None:
    _, cache, upstream = make()
    results = await asyncio.gather(*(cache.get_or_call("k", upstream("k")) for _ in range(50)))
    assert upstream.calls["k"] == 1
    assert {value for value, _ in results} == {"value-k-1"}
    assert sorted(hit for _, hit in results) == [False] + [True] * 49
    assert cache.in_flight() == 0


async def test_errors_reach_every_waiter_and_are_never_cached() -> None:
    _, cache, upstream = make()
    boom = RuntimeError("upstream broke")
    upstream.fail_with = boom
    results = await asyncio.gather(
        *(cache.get_or_call("k", upstream("k")) for _ in range(5)), return_exceptions=True
    )
    assert results == [boom] * 5
    assert upstream.calls["k"] == 1
    assert cache.in_flight() == 0
    upstream.fail_with = None
    value, hit = await cache.get_or_call("k", upstream("k"))
    assert (value, hit) == ("value-k-2", False)
    assert upstream.calls["k"] == 2
    assert cache.in_flight() == 0


async def test_a_caller_arriving_as_the_call_fails_is_not_handed_the_stale_error() -> None:
    """The newcomer runs after the call failed but before the flight's cleanup ran."""
    clock, cache, upstream = make(duration=1.0)
    upstream.fail_with = RuntimeError("failed at t=1")
    first = asyncio.create_task(cache.get_or_call("k", upstream("k")))
    await settle()

    async def newcomer() -> tuple[str, bool]:
        await clock.sleep(1.0)  # wakes in the same tick the call fails, just after it
        upstream.fail_with = None
        return await cache.get_or_call("k", upstream("k"))

    assert await newcomer() == ("value-k-2", False)
    with pytest.raises(RuntimeError):
        await first
    assert cache.in_flight() == 0


async def test_a_cancelled_follower_does_not_cancel_the_leader() -> None:
    _, cache, upstream = make()
    leader = asyncio.create_task(cache.get_or_call("k", upstream("k")))
    await settle()
    follower = asyncio.create_task(cache.get_or_call("k", upstream("k")))
    await settle()
    follower.cancel()
    with pytest.raises(asyncio.CancelledError):
        await follower
    assert await leader == ("value-k-1", False)
    assert upstream.cancelled["k"] == 0
    assert upstream.finished["k"] == 1
    assert cache.in_flight() == 0


async def test_a_cancelled_leader_does_not_fail_the_followers() -> None:
    _, cache, upstream = make()
    leader = asyncio.create_task(cache.get_or_call("k", upstream("k")))
    await settle()
    followers = [asyncio.create_task(cache.get_or_call("k", upstream("k"))) for _ in range(3)]
    await settle()
    leader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leader
    assert await asyncio.gather(*followers) == [("value-k-1", True)] * 3
    assert upstream.calls["k"] == 1
    assert upstream.cancelled["k"] == 0
    assert cache.in_flight() == 0


async def test_the_call_is_cancelled_when_every_waiter_is_gone() -> None:
    _, cache, upstream = make()
    waiters = [asyncio.create_task(cache.get_or_call("k", upstream("k"))) for _ in range(3)]
    await settle()
    assert cache.in_flight() == 1
    for waiter in waiters:
        waiter.cancel()
    await asyncio.gather(*waiters, return_exceptions=True)
    # The entry goes with the last waiter, before the call has even seen its cancellation.
    assert cache.in_flight() == 0
    await settle()
    assert upstream.cancelled["k"] == 1
    assert upstream.finished["k"] == 0
    assert [t for t in asyncio.all_tasks() if t.get_name().startswith("patchwire-cache")] == []


async def test_a_newcomer_after_abandonment_starts_afresh_instead_of_joining_a_dying_call() -> None:
    """The only waiter is cancelled at t=1 and a newcomer asks in that same tick, before
    the abandoned call has even seen its cancellation."""
    clock, cache, upstream = make(duration=2.0)
    waiter = asyncio.create_task(cache.get_or_call("k", upstream("k")))
    await settle()

    def cancel_waiter() -> None:
        waiter.cancel()

    clock.call_at(1.0, cancel_waiter)

    async def newcomer() -> tuple[str, bool]:
        await clock.sleep(1.0)
        return await cache.get_or_call("k", upstream("k"))

    assert await newcomer() == ("value-k-2", False)
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert upstream.cancelled["k"] == 1
    assert cache.in_flight() == 0


async def test_a_call_that_fails_after_every_waiter_left_logs_nothing() -> None:
    """The abandoned call turns its cancellation into an error nobody is left to read."""
    clock, cache, _ = make()
    reported: list[dict[str, object]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _, ctx: reported.append(ctx))

    async def call() -> str:
        try:
            await clock.sleep(1.0)
        except asyncio.CancelledError:
            raise RuntimeError("cleanup failed") from None
        return "never"

    waiter = asyncio.create_task(cache.get_or_call("k", call))
    await settle()
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await settle()
    gc.collect()
    assert reported == []
    assert cache.in_flight() == 0


async def test_the_caller_resumes_in_the_loop_turn_after_the_call_finishes() -> None:
    """The call hands its value to each waiter's future itself (no shield and done-callback
    hop): a miss on a call that never suspends takes two turns of the loop, not three."""
    cache = ResponseCache(MemoryCacheBackend(VirtualClock()), ttl=60.0)

    async def instant() -> str:
        return "v"

    turns = 0

    async def count_turns() -> None:
        nonlocal turns
        while True:
            await asyncio.sleep(0)
            turns += 1

    counter = asyncio.create_task(count_turns())
    await asyncio.sleep(0)  # the counter is running
    before = turns
    assert await cache.get_or_call("k", instant) == ("v", False)
    assert turns - before == 2
    assert await cache.get_or_call("k", instant) == ("v", True)
    counter.cancel()
    assert cache.in_flight() == 0


async def test_a_flight_cancelled_before_it_ran_cancels_its_waiters() -> None:
    """run() never starts, so the task's done callback settles the waiters instead."""
    _, cache, upstream = make()
    waiters = [asyncio.create_task(cache.get_or_call("k", upstream("k"))) for _ in range(2)]
    await asyncio.sleep(0)  # both waiting; the flight task has not had its first step
    (flight,) = [t for t in asyncio.all_tasks() if t.get_name().startswith("patchwire-cache")]
    flight.cancel()
    for waiter in waiters:
        with pytest.raises(asyncio.CancelledError):
            await waiter
    assert upstream.calls["k"] == 0
    assert cache.in_flight() == 0


async def test_the_memory_backend_is_called_directly_and_a_subclass_is_awaited(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The in-process backend's lookup and store run without their coroutines; a subclass
    may override get and set, so its own coroutines are what the cache calls."""
    seen: list[str] = []

    class Counting(MemoryCacheBackend):
        async def get(self, key: str) -> object | None:
            seen.append(f"get {key}")
            return await super().get(key)

        async def set(self, key: str, value: object, ttl: float | None = None) -> None:
            seen.append(f"set {key}")
            await super().set(key, value, ttl)

    async def call() -> str:
        return "v"

    subclassed = ResponseCache(Counting(VirtualClock()), ttl=60.0)
    assert await subclassed.get_or_call("k", call) == ("v", False)
    assert await subclassed.get_or_call("k", call) == ("v", True)
    assert seen == ["get k", "set k", "get k"]

    backend = MemoryCacheBackend(VirtualClock())
    direct = ResponseCache(backend, ttl=60.0)

    async def refuse(*_: object) -> None:
        raise AssertionError("the memory backend's coroutines are not used")

    monkeypatch.setattr(MemoryCacheBackend, "get", refuse)
    monkeypatch.setattr(MemoryCacheBackend, "set", refuse)
    assert await direct.get_or_call("k", call) == ("v", False)
    assert await direct.get_or_call("k", call) == ("v", True)
    assert backend.lookup("k") == "v"


async def test_store_can_refuse_a_value_and_none_is_never_cached() -> None:
    _, cache, upstream = make()
    await cache.get_or_call("k", upstream("k"), store=lambda _: False)
    assert await cache.get_or_call("k", upstream("k")) == ("value-k-2", False)
    assert await cache.get_or_call("k", upstream("k")) == ("value-k-2", True)

    async def nothing() -> None:
        return None

    assert await cache.get_or_call("n", nothing) == (None, False)
    assert await cache.get_or_call("n", nothing) == (None, False)
    assert cache.in_flight() == 0


async def test_an_entry_is_not_served_after_its_ttl() -> None:
    clock = VirtualClock(autojump=False)
    cache = ResponseCache(MemoryCacheBackend(clock), ttl=10.0)
    upstream = Upstream(clock, duration=0.0)
    assert await cache.get_or_call("k", upstream("k")) == ("value-k-1", False)
    clock.advance(9.999)
    assert await cache.get_or_call("k", upstream("k")) == ("value-k-1", True)
    clock.advance(0.001)
    assert await cache.get_or_call("k", upstream("k")) == ("value-k-2", False)
    assert cache.in_flight() == 0


async def test_ttl_zero_turns_caching_and_coalescing_off() -> None:
    _, cache, upstream = make(ttl=0.0)
    results = await asyncio.gather(*(cache.get_or_call("k", upstream("k")) for _ in range(3)))
    assert upstream.calls["k"] == 3
    assert all(not hit for _, hit in results)
    assert await cache.get_or_call("k", upstream("k")) == ("value-k-4", False)
    assert cache.in_flight() == 0


def test_a_negative_ttl_is_refused() -> None:
    with pytest.raises(ValueError):
        ResponseCache(MemoryCacheBackend(VirtualClock()), ttl=-1.0)


async def test_a_stored_value_of_another_shape_is_a_counted_miss_and_is_replaced() -> None:
    """What a shared store returns is whatever was written under the key; a value the
    operation could not have produced is not served, and the call's answer replaces it."""
    backend = MemoryCacheBackend(VirtualClock())
    cache = ResponseCache(backend, ttl=60)
    accept = entry_shape(str, lambda i: type(i) is int and 0 <= i < 2)
    await backend.set("k", ("planted", 7))
    calls = 0

    async def call() -> tuple[str, int]:
        nonlocal calls
        calls += 1
        return ("fresh", 1)

    assert await cache.get_or_call("k", call, accept=accept) == (("fresh", 1), False)
    assert (calls, cache.rejected) == (1, 1)
    assert await cache.get_or_call("k", call, accept=accept) == (("fresh", 1), True)
    assert calls == 1


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        (("a", 1), True),
        (("a", 1, 2), False),
        (["a", 1], False),
        ((1, 1), False),
        (("a", True), False),
        (("a", 1.0), False),
        ("a", False),
    ],
)
def test_entry_shape_checks_length_and_every_item(value: object, ok: bool) -> None:
    assert entry_shape(str, lambda i: type(i) is int)(value) is ok


def test_is_vector_takes_numbers_only() -> None:
    assert is_vector((0.5, 1, -2.0)) and is_vector(())
    assert not is_vector([0.5]) and not is_vector((0.5, "x")) and not is_vector((True,))
