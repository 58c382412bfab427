"""The response cache: a TTL store behind an async backend, with single-flight calls.

Identical concurrent requests share one upstream call. That call runs in its own task,
so no single caller owns it: a caller that is cancelled (its deadline fired, its client
went away) stops waiting without disturbing the others, and the call is cancelled only
when nobody waits for it any more.
"""

from __future__ import annotations

import asyncio
import heapq
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar, cast

from patchwire.clock import Clock

__all__ = ["CacheBackend", "MemoryCacheBackend", "ResponseCache", "entry_shape", "is_vector"]

T = TypeVar("T")


class CacheBackend(Protocol):
    """Where cached responses live. Async so that a shared store (Redis) fits the same slot.

    ``get`` returns None for a missing or expired key, so None itself is never stored.
    An entry must never be served more than ``ttl`` seconds after ``set``.
    """

    async def get(self, key: str) -> object | None: ...

    async def set(self, key: str, value: object, ttl: float) -> None: ...

    async def delete(self, key: str) -> None: ...


class MemoryCacheBackend:
    """An in-process store: at most ``max_entries`` entries, each living its own ttl.

    Entries set with different ttls each expire on time; when full, expired entries go
    first, then the least recently used one. Time is read from ``clock``, so tests expire
    entries by advancing a virtual clock. ``default_ttl`` applies to ``set`` calls that
    give no ttl.

    An ordered dict of ``(value, expires_at)`` in order of use, and a heap of
    ``(expires_at, key)`` that a write sweeps. (cachetools' ``TLRUCache`` did the same in
    Python layered over its base ``Cache``, a timer context and an item object per write:
    a store cost about as much as the rest of a miss's cache work; issue 19.) Values are
    kept as they are, never encoded: nothing outside this process can write here, so what
    is read back is an object the pipeline itself stored, still checked by ``accept``.
    """

    __slots__ = ("_default_ttl", "_entries", "_expiries", "_max_entries", "_now")

    def __init__(
        self, clock: Clock, max_entries: int = 10_000, default_ttl: float = 3600.0
    ) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        if default_ttl <= 0:
            raise ValueError(f"default_ttl must be positive, got {default_ttl}")
        self._default_ttl = default_ttl
        self._max_entries = max_entries
        self._now = clock.now
        self._entries: OrderedDict[str, tuple[object, float]] = OrderedDict()
        # Every write's expiry; an item whose key was since overwritten or deleted stays
        # until it comes up (or the heap is rebuilt), and removes only an expired entry.
        self._expiries: list[tuple[float, str]] = []

    async def get(self, key: str) -> object | None:
        return self.lookup(key)

    async def set(self, key: str, value: object, ttl: float | None = None) -> None:
        self.store(key, value, ttl)

    def lookup(self, key: str) -> object | None:
        """:meth:`get` without the coroutine (the response cache calls this directly)."""
        entries = self._entries
        entry = entries.get(key)
        if entry is None:
            return None
        if self._now() < entry[1]:
            entries.move_to_end(key)
            return entry[0]
        del entries[key]
        return None

    def store(self, key: str, value: object, ttl: float | None = None) -> None:
        """:meth:`set` without the coroutine (the response cache calls this directly)."""
        ttl = self._default_ttl if ttl is None else ttl
        entries = self._entries
        now = self._now()
        expires = now + ttl
        if ttl <= 0 or value is None or not now < expires:
            entries.pop(key, None)
            return
        expiries = self._expiries
        if expiries and not now < expiries[0][0]:
            self._sweep(now)
        elif len(expiries) > 2 * len(entries) + 16:
            # Mostly overwritten or deleted keys: rebuild from what is held.
            self._expiries = expiries = [(e[1], k) for k, e in entries.items()]
            heapq.heapify(expiries)
        entries.pop(key, None)  # a rewrite counts as a use: to the end of the order
        if len(entries) >= self._max_entries:
            entries.popitem(last=False)
        entries[key] = (value, expires)
        heapq.heappush(expiries, (expires, key))

    def _sweep(self, now: float) -> None:
        """Drop the entries expired by ``now``."""
        entries = self._entries
        expiries = self._expiries
        while expiries and not now < expiries[0][0]:
            key = heapq.heappop(expiries)[1]
            entry = entries.get(key)
            if entry is not None and not now < entry[1]:
                del entries[key]

    async def delete(self, key: str) -> None:
        self._entries.pop(key, None)

    def __len__(self) -> int:
        """Entries held, expired ones included until read or swept out by a write."""
        return len(self._entries)


def _always(_value: object) -> bool:
    return True


Check = Callable[[object], bool]


def entry_shape(*items: type | tuple[type, ...] | Check) -> Check:
    """A predicate for a tuple entry of ``len(items)`` values, each an instance of its
    type(s) or passing its check: what ``accept`` of :meth:`ResponseCache.get_or_call`
    takes for an operation's entries."""
    return _EntryShape(items)


class _EntryShape:
    """What :func:`entry_shape` returns: one object holding the items as given, where a
    closure cost a function, two cells, a list and a lambda per type (the pipeline builds
    one per completion call; issue 19, GC-tracked objects per call)."""

    __slots__ = ("_items",)

    def __init__(self, items: tuple[type | tuple[type, ...] | Check, ...]) -> None:
        self._items = items

    def __call__(self, value: object) -> bool:
        items = self._items
        if type(value) is not tuple or len(value) != len(items):
            return False
        for item, v in zip(items, value, strict=True):
            if isinstance(item, type | tuple):
                if not isinstance(v, item):
                    return False
            elif not item(v):
                return False
        return True


def is_vector(value: object) -> bool:
    """A tuple of numbers (an embedding as the pipeline caches it)."""
    return type(value) is tuple and all(
        type(x) is float or type(x) is int
        for x in value  # bool is not a number here
    )


class _Flight:
    """One upstream call and the futures of the callers waiting for it.

    Each waiter awaits a future of its own, so cancelling one waiter cancels only that
    future; the call hands its outcome to every waiter's future itself, as it finishes.
    (``asyncio.shield`` on the task did the same through a done callback, which cost an
    extra turn of the event loop per call before the waiter could resume: a cache miss
    spent three turns, now two; issue 19.)
    """

    __slots__ = ("task", "waiters")

    def __init__(self) -> None:
        self.task: asyncio.Task[None] | None = None
        self.waiters: list[asyncio.Future[Any]] = []

    def settle(self, value: object, error: BaseException | None) -> None:
        """Hand the outcome to every waiter still waiting; later calls do nothing."""
        waiters, self.waiters = self.waiters, []
        for waiter in waiters:
            if waiter.done():  # its caller was cancelled and has not resumed yet
                continue
            if error is None:
                waiter.set_result(value)
            elif isinstance(error, asyncio.CancelledError):
                waiter.cancel()
            else:
                waiter.set_exception(error)


class ResponseCache:
    """Answers repeated requests from ``backend`` and coalesces concurrent ones.

    ``ttl`` is how long a stored response is served; 0 turns caching (and coalescing)
    off, so every ``get_or_call`` just calls.
    """

    def __init__(self, backend: CacheBackend, *, ttl: float) -> None:
        if ttl < 0:
            raise ValueError(f"ttl must be >= 0, got {ttl}")
        self._backend = backend
        # The in-process backend is called directly, not through its coroutines: they
        # never suspend, so no other task can run between a read and what follows it
        # either way, and a call skips two coroutine objects. Exactly that class: a
        # subclass may override get or set, so it is awaited like any backend.
        self._local = backend if type(backend) is MemoryCacheBackend else None
        self._ttl = ttl
        self._flights: dict[str, _Flight] = {}
        #: values the backend returned that ``accept`` refused (each one a miss)
        self.rejected = 0

    async def get_or_call(
        self,
        key: str,
        call: Callable[[], Awaitable[T]],
        *,
        store: Callable[[T], bool] = _always,
        ttl: float | None = None,
        accept: Callable[[object], bool] = _always,
    ) -> tuple[T, bool]:
        """Return ``(value, hit)`` for ``key``, calling ``call`` only when needed.

        ``hit`` is False only for the caller whose request started an upstream call; a
        value served from the backend, or shared from another caller's in-flight call,
        is a hit, because this caller caused no upstream call (which is what hit and
        miss counts are read for: cost and provider load).

        Exceptions are never stored: they reach every caller waiting on that flight, and
        the next request calls again. ``store(value)`` returning False keeps one
        particular value out of the cache (it is still shared with current waiters).
        ``ttl`` overrides this cache's ttl for the value stored now; 0 bypasses the cache.

        ``accept(value)`` says whether a value from the backend is one ``call`` could have
        produced. A shared store answers with whatever was written under the key, by
        anyone who can write to it, so a value of another shape is a miss (counted in
        ``rejected``), and the call's answer replaces it.
        """
        ttl = self._ttl if ttl is None else ttl
        if ttl == 0:
            return await call(), False
        hit = True
        flight = self._live_flight(key)
        if flight is None:
            local = self._local
            cached = local.lookup(key) if local is not None else await self._backend.get(key)
            if cached is not None:
                if accept(cached):
                    return cast(T, cached), True
                self.rejected += 1
            # Another caller may have started the call while the backend answered.
            flight = self._live_flight(key)
            if flight is None:
                flight = self._start(key, call, store, ttl)
                hit = False
        # Waited here, not in a helper coroutine: one frame fewer per call (issue 19).
        waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        flight.waiters.append(waiter)
        try:
            return cast(T, await waiter), hit
        except asyncio.CancelledError:
            self._leave(key, flight, waiter)
            raise

    async def aclose(self) -> None:
        """Close the backend if it holds connections (a shared store); memory needs nothing."""
        close = getattr(self._backend, "aclose", None)
        if close is not None:
            await close()

    def in_flight(self) -> int:
        """Upstream calls currently running on behalf of waiting callers."""
        return len(self._flights)

    def _live_flight(self, key: str) -> _Flight | None:
        flight = self._flights.get(key)
        # A finished flight whose cleanup has not run yet must not hand out its outcome:
        # a stale error would look cached, and a value is in the backend by now anyway.
        if flight is None or flight.task is None or flight.task.done():
            return None
        return flight

    def _start(
        self, key: str, call: Callable[[], Awaitable[T]], store: Callable[[T], bool], ttl: float
    ) -> _Flight:
        flight = _Flight()

        async def run() -> None:
            try:
                value = await call()
                if value is not None and store(value):
                    local = self._local
                    if local is not None:
                        local.store(key, value, ttl)
                    else:
                        await self._backend.set(key, value, ttl)
            except BaseException as err:
                self._drop(key, flight)
                flight.settle(None, err)
                if isinstance(err, asyncio.CancelledError | KeyboardInterrupt | SystemExit):
                    raise
                # Every waiter's future holds the error now; the task ends quietly, so an
                # error nobody is left to read (all waiters cancelled) is never logged.
                return
            # The entry goes before any waiter resumes: no in-flight entry outlives its call.
            self._drop(key, flight)
            flight.settle(value, None)

        task = asyncio.get_running_loop().create_task(
            run(), name=f"patchwire-cache-flight-{key[:12]}"
        )
        flight.task = task
        self._flights[key] = flight
        # A task cancelled before its first step never runs run()'s handler: settle here
        # then (its waiters see the cancellation). After run() settled, this does nothing.
        task.add_done_callback(lambda _: self._finish(key, flight))
        return flight

    def _drop(self, key: str, flight: _Flight) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]

    def _finish(self, key: str, flight: _Flight) -> None:
        self._drop(key, flight)
        if flight.waiters:
            flight.settle(None, asyncio.CancelledError())

    def _leave(self, key: str, flight: _Flight, waiter: asyncio.Future[Any]) -> None:
        """A cancelled caller stops waiting; the last one to go cancels the call."""
        if waiter in flight.waiters:
            flight.waiters.remove(waiter)
        task = flight.task
        if not flight.waiters and task is not None and not task.done():
            # The last waiter left: nobody wants the answer. Drop the entry now so a
            # newcomer starts afresh instead of joining a call that is being cancelled.
            self._drop(key, flight)
            task.cancel()
