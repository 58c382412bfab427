"""The limiter: admission through every window at once, in queue order, within deadlines.

Only the head of the queue is ever tried against the buckets, so a large request at the
head cannot be overtaken and starved by small ones behind it. The head's own task does
the trying: it asks the backend, and if the buckets are short it sleeps on a clock timer
set for the instant they will not be (or until something changes: a release, a refund,
new provider information, a new head). Nothing polls and no background task exists, so
a limiter with nobody waiting costs nothing.

With the in-process backend an admission that need not wait is taken synchronously
(:meth:`Limiter.admit`): no coroutine, no waiter, no result object. Only a request that
must queue, or one whose buckets live in a remote store, goes through ``acquire``'s
awaited path.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable

from patchwire.clock import Clock
from patchwire.limiter.adaptive import Adaptive, AdaptivePolicy, RateLimitInfo
from patchwire.limiter.backend import Lane, LimiterBackend, MemoryBackend, take
from patchwire.limiter.bucket import BucketSpec, refill, wait_for
from patchwire.limiter.limits import Kind, LimitsConfig
from patchwire.limiter.queue import Expiries, Waiter, WaitQueue
from patchwire.limiter.refused import LimiterRefused
from patchwire.limiter.snapshot import LimiterSnapshot, WindowState

__all__ = ["Limiter", "Permit"]

log = logging.getLogger("patchwire.limiter")
_new = object.__new__


class Permit:
    """An admission: holds a concurrency slot until released, and settles token usage."""

    __slots__ = ("_limiter", "_slot", "_tokens", "waited")

    def __init__(self, limiter: Limiter, tokens: int, slot: bool, waited: float = 0.0) -> None:
        self._limiter = limiter
        self._tokens = tokens
        self._slot = slot
        #: seconds this request spent queued (0 when it was admitted on arrival)
        self.waited = waited

    async def reconcile(self, actual_tokens: int) -> None:
        """Charge (or refund) the difference between what was charged and ``actual_tokens``.

        May be called more than once; each call settles against the last. A charge may
        leave a window in debt, which later admissions wait out.
        """
        if actual_tokens < 0:
            raise ValueError(f"actual_tokens must be >= 0, got {actual_tokens!r}")
        delta = actual_tokens - self._tokens
        if delta:
            self._tokens = actual_tokens
            if self._limiter.counts_tokens:
                await self._limiter._settle(delta)

    def release(self) -> None:
        """Free the concurrency slot; later calls do nothing."""
        if self._slot:
            self._slot = False
            limiter = self._limiter
            limiter._in_use -= 1
            if limiter._queue.live:  # nobody waits: nobody to wake
                limiter._poke_head()


class Limiter:
    """Rate and concurrency limits for one connector (``key`` names its buckets)."""

    def __init__(
        self,
        key: str,
        config: LimitsConfig,
        clock: Clock,
        backend: LimiterBackend | None = None,
        *,
        aging: float = 1.0,
        on_wait: Callable[[float], None] | None = None,
        adaptive: AdaptivePolicy | None = None,
    ) -> None:
        self.key = key
        self.config = config
        self._clock = clock
        self._backend: LimiterBackend = backend if backend is not None else MemoryBackend()
        # The in-process backend (a subclass may override its operations, so only the
        # class itself qualifies): admit charges its cells for this key directly, once read.
        self._local = self._backend if type(self._backend) is MemoryBackend else None
        self._cells: list[list[float]] | None = None if config.windows() else []
        # admit's lanes (cell, spec, cost) and the specs they were laid for
        self._lanes: tuple[Lane, ...] = ()
        self._lanes_specs: tuple[BucketSpec, ...] | None = None
        self._on_wait = on_wait
        self._windows = config.windows()
        self._token_windows = [i for i, w in enumerate(self._windows) if w.kind is Kind.TOKENS]
        #: whether a request's token count matters: without a token window neither the
        #: estimate given to ``acquire`` nor a permit's ``reconcile`` changes anything
        self.counts_tokens = bool(self._token_windows)
        # the largest request every token window can hold (acquire refuses a larger one
        # before the buckets are touched, so admit must leave it alone too)
        self._most_tokens = min(
            (self._windows[i].capacity for i in self._token_windows), default=math.inf
        )
        # Without token windows every admission costs 1 per window: one tuple for all.
        self._request_costs = (1.0,) * len(self._windows)
        self._max = config.max_concurrency
        # the same bound for a comparison on the synchronous path (no cap: never reached)
        self._max_slots = self._max if self._max is not None else math.inf
        self._unlimited = config.empty
        self._queue = WaitQueue(aging)
        self._expiries = Expiries(clock)
        self._adaptive = Adaptive(self._windows, adaptive or AdaptivePolicy())
        self._in_use = 0
        # true while the head awaits the backend, so no second task asks at the same time
        self._busy = False
        # last level read from the backend per window, and when: [level, stamp]
        now = clock.now()
        self._view = [[w.capacity, now] for w in self._windows]
        # (view, cell) per window: admit's reading of the cells it charged
        self._mirror: tuple[tuple[list[float], list[float]], ...] = ()
        # provider ceilings not yet sent to the backend: index -> [ceiling, stamp]
        self._ceilings: dict[int, list[float]] = {}

    # -- admission ----------------------------------------------------------------------

    def admit(self, tokens: int = 0, deadline: float | None = None) -> Permit | None:
        """A :class:`Permit` at once if the request needs no wait, else None: then
        ``await acquire(...)`` with the same request, which queues (or refuses) it.

        Synchronous: it answers only with the in-process backend, when nobody is queued or
        asking, no provider information waits to be applied, a slot is free and every
        window holds the request now. The line is empty, so priority cannot matter.
        """
        local = self._local
        if (
            local is None
            or self._queue.live
            or self._busy
            or self._ceilings
            or self._in_use >= self._max_slots
            or not 0 <= tokens <= self._most_tokens
        ):
            return None
        now = self._clock.now()
        adaptive = self._adaptive
        if (deadline is not None and now > deadline) or adaptive.blocked_until > now:
            return None
        specs = adaptive.current  # read without a call while they hold
        if specs is None or now >= adaptive.current_until:
            specs = adaptive.specs(now)
        if specs is not self._lanes_specs or self.counts_tokens:
            self._lay(local, specs, tokens, now)
        if take(self._lanes, now):
            return None
        for view, cell in self._mirror:
            view[0] = cell[0]
            view[1] = now
        slot = self._max is not None
        if slot:
            self._in_use += 1
        # Permit(self, tokens, slot) with its slots stored here: every admission on
        # arrival builds one, and the type call into __init__ cost more than the stores.
        permit = _new(Permit)
        permit._limiter = self
        permit._tokens = tokens
        permit._slot = slot
        permit.waited = 0.0
        return permit

    def _lay(
        self, local: MemoryBackend, specs: tuple[BucketSpec, ...], tokens: int, now: float
    ) -> None:
        """The lanes :meth:`admit` charges: kept while the specs last, unless the costs
        vary with the request (token windows)."""
        cells = self._cells
        if cells is None:
            cells = self._cells = local.cells(self.key, specs, now)
            self._mirror = tuple(zip(self._view, cells, strict=True))
        self._lanes = tuple(zip(cells, specs, self._costs(tokens), strict=True))
        self._lanes_specs = specs

    async def acquire(
        self, *, tokens: int = 0, priority: int = 0, deadline: float | None = None
    ) -> Permit:
        """Wait for a turn and return a :class:`Permit`.

        Raises :class:`LimiterRefused` at once when ``tokens`` exceed a window's capacity
        or when the deadline (a clock instant) cannot be met, and at the deadline if the
        request is still queued then.
        """
        permit = self.admit(tokens, deadline)
        if permit is not None:
            return permit
        if tokens < 0:
            raise ValueError(f"tokens must be >= 0, got {tokens!r}")
        if self._unlimited:
            return Permit(self, 0, False)
        for window in self._windows:
            if window.kind is Kind.TOKENS and tokens > window.capacity:
                raise LimiterRefused(
                    f"request of {tokens} tokens exceeds {window.name} capacity {window.capacity:g}",
                    None,
                )
        now = self._clock.now()
        if not len(self._queue) and not self._busy and (deadline is None or now <= deadline):
            # Nobody is waiting: try at once without joining the line, the common case
            # when limits are not binding (and then no waiter is made). A refusal charged
            # nothing; then queue as usual.
            admitted, _ = await self._attempt(tokens, None, now)
            if admitted:
                return Permit(self, tokens, self._max is not None)
            now = self._clock.now()
        waiter = Waiter(priority, tokens, now, deadline)
        if deadline is not None and len(self._queue):
            wait = self._estimate(waiter, now)
            if now + wait > deadline:
                raise _late(wait, deadline - now)
        self._queue.push(waiter)
        try:
            return await self._take_turn(waiter)
        finally:
            self._leave(waiter)

    async def _take_turn(self, waiter: Waiter) -> Permit:
        clock = self._clock
        deadline = waiter.deadline
        slept = False
        while True:
            now = clock.now()
            if self._queue.head() is waiter and not self._busy:
                if deadline is not None and now > deadline:
                    raise self._expired(waiter, now)
                admitted, wait = await self._attempt(waiter.tokens, waiter, now)
                if admitted:
                    if self._on_wait is not None and now > waiter.arrival:
                        self._report_wait(self._on_wait, now - waiter.arrival)
                    # Only a request that had to sleep waited: on the real clock an admission
                    # on arrival still takes a few microseconds, which is not throttling.
                    waited = now - waiter.arrival if slept else 0.0
                    return Permit(self, waiter.tokens, self._max is not None, waited)
                if deadline is not None:
                    if wait is None:
                        if now >= deadline:
                            raise self._expired(waiter, now)
                    elif now + wait > deadline:
                        # a block ending or a provider pace expiring before the deadline may
                        # shorten the wait: look again then rather than refuse now
                        change = self._adaptive.next_change(now)
                        if change is None or change >= deadline:
                            raise _late(wait, deadline - now)
                self._arm(waiter, now, wait)
            elif deadline is not None and now >= deadline:
                raise self._expired(waiter, now)
            if deadline is not None and not waiter.watched:
                self._expiries.watch(waiter, deadline)
            slept = True
            await _sleep(waiter)

    async def _attempt(
        self, tokens: int, waiter: Waiter | None, now: float
    ) -> tuple[bool, float | None]:
        """Try the head (``waiter``; None: a newcomer to an empty line) once for ``tokens``:
        (admitted, wait). A None wait means "until a slot frees"."""
        if self._max is not None and self._in_use >= self._max:
            return False, None
        blocked = self._adaptive.blocked_until
        if blocked > now:
            return False, blocked - now
        if self._windows:
            costs = self._costs(tokens)
            self._busy = True
            try:
                if self._ceilings:
                    await self._flush_ceilings(now)
                specs = self._adaptive.specs(now)
                result = await self._backend.try_acquire(self.key, specs, costs, now)
            finally:
                self._busy = False
                # A head that arrived while we were asking found us busy and sleeps until
                # poked; it must be, whether this ask ends in an answer or is cancelled.
                head = self._queue.head()
                if head is not waiter and head is not None:
                    head.poke()
            self._see(range(len(self._windows)), result.levels, now)
            if not result.ok:
                return False, result.wait
        if self._max is not None:
            self._in_use += 1
        return True, 0.0

    def _report_wait(self, on_wait: Callable[[float], None], waited: float) -> None:
        try:
            on_wait(waited)
        except Exception:
            # the caller was admitted; a broken metrics hook must not lose its permit
            log.exception("limiter %r: on_wait callback failed", self.key)

    def _arm(self, waiter: Waiter, now: float, wait: float | None) -> None:
        """Set the head's timer for when the buckets allow it, or a rate changes first."""
        if waiter.timer is not None:
            waiter.timer.cancel()
            waiter.timer = None
        when = now + wait if wait is not None else math.inf
        change = self._adaptive.next_change(now)
        if change is not None:
            when = min(when, change)
        if when < math.inf:
            waiter.timer = self._clock.call_at(when, waiter.poke)

    def _leave(self, waiter: Waiter) -> None:
        was_head = waiter.queued and self._queue.head() is waiter
        self._queue.remove(waiter)
        if waiter.timer is not None:
            waiter.timer.cancel()
        self._expiries.forget(waiter)
        if was_head:
            head = self._queue.head()
            if head is not None:
                head.poke()

    def _estimate(self, waiter: Waiter, now: float) -> float:
        """The wait of a newcomer behind every queued waiter at or above its priority.

        At the present rates this is a lower bound: aged lower-priority waiters that are
        also ahead and slower provider paces are left out, so no request is refused at
        arrival that the line as it stands would have served in time. One it lets in that
        does not make it (the line grew ahead of it, a slot stayed busy) is refused at its
        deadline instead.
        """
        count, tokens = self._queue.ahead(waiter.priority)
        if waiter.queued:
            count -= 1
            tokens -= waiter.tokens
        wait = max(0.0, self._adaptive.blocked_until - now)
        for index, window in enumerate(self._windows):
            rate = window.rate * self._adaptive.factor
            need = count + 1 if window.kind is Kind.REQUESTS else tokens + waiter.tokens
            wait = max(wait, wait_for(self._level(index, now, rate), need, rate))
        return wait

    def _expired(self, waiter: Waiter, now: float) -> LimiterRefused:
        # rough: it also counts later arrivals of the same priority, which are behind
        wait = self._estimate(waiter, now)
        return LimiterRefused(
            f"deadline: still queued at the deadline, about {wait:.3f} s more to wait", wait
        )

    # -- settling and releasing ------------------------------------------------------------

    async def _settle(self, delta: int) -> None:
        indices = self._token_windows
        if not indices:
            return
        now = self._clock.now()
        if self._ceilings:
            await self._flush_ceilings(now)
        specs = self._adaptive.specs(now)
        levels = await self._backend.adjust(
            self.key, [specs[i] for i in indices], [float(delta)] * len(indices), now
        )
        self._see(indices, levels, now)
        if delta < 0:
            self._poke_head()

    def _poke_head(self) -> None:
        head = self._queue.head()
        if head is not None:
            head.poke()

    # -- adaptation -----------------------------------------------------------------------

    def observe(self, info: RateLimitInfo) -> None:
        """Apply a provider's rate-limit headers (see :mod:`patchwire.limiter.adaptive`)."""
        now = self._clock.now()
        for index, ceiling in self._adaptive.observe(info, now).items():
            pending = self._ceilings.get(index)
            if pending is None or ceiling < self._project(pending, index, now):
                self._ceilings[index] = [ceiling, now]
            view = self._view[index]
            view[0] = min(self._level(index, now, self._adaptive.rate(index, now)), ceiling)
            view[1] = now
        self._poke_head()

    def on_rate_limited(self, retry_after: float | None) -> None:
        """A 429: halve the rates (down to the floor) and admit nothing before ``retry_after``."""
        self._adaptive.rate_limited(self._clock.now(), retry_after)
        self._poke_head()

    def on_success(self) -> None:
        """A call went through: relax the rates one step back toward the configured ones."""
        # at the configured rates already (nearly always): no call
        if self._adaptive.factor < 1.0 and self._adaptive.succeeded():
            self._poke_head()

    # -- views ----------------------------------------------------------------------------

    def snapshot(self) -> LimiterSnapshot:
        now = self._clock.now()
        windows = {}
        for index, window in enumerate(self._windows):
            rate = self._adaptive.rate(index, now)
            windows[window.name] = WindowState(window.capacity, self._level(index, now, rate), rate)
        blocked = self._adaptive.blocked_until
        return LimiterSnapshot(
            key=self.key,
            windows=windows,
            in_use=self._in_use,
            max_concurrency=self._max,
            waiters=len(self._queue),
            factor=self._adaptive.factor,
            blocked_until=blocked if blocked > now else None,
            reported=self._adaptive.reported,
        )

    def __repr__(self) -> str:
        return f"Limiter({self.key!r}, {self.config!r}, waiters={len(self._queue)})"

    # -- local bookkeeping ----------------------------------------------------------------

    def _costs(self, tokens: int) -> tuple[float, ...]:
        if not self._token_windows:
            return self._request_costs
        return tuple(1.0 if w.kind is Kind.REQUESTS else float(tokens) for w in self._windows)

    def _level(self, index: int, now: float, rate: float) -> float:
        level, stamp = self._view[index]
        return refill(level, stamp, now, self._windows[index].capacity, rate)

    def _project(self, ceiling: list[float], index: int, now: float) -> float:
        """A ceiling observed earlier, grown by the refill since (the provider refills too)."""
        return refill(
            ceiling[0],
            ceiling[1],
            now,
            self._windows[index].capacity,
            self._adaptive.rate(index, now),
        )

    async def _flush_ceilings(self, now: float) -> None:
        pending, self._ceilings = self._ceilings, {}
        indices = list(pending)
        specs = self._adaptive.specs(now)
        ceilings = [self._project(pending[i], i, now) for i in indices]
        levels = await self._backend.lower_to(self.key, [specs[i] for i in indices], ceilings, now)
        self._see(indices, levels, now)

    def _see(self, indices: range | list[int], levels: tuple[float, ...], now: float) -> None:
        for index, level in zip(indices, levels, strict=True):
            view = self._view[index]
            view[0] = level
            view[1] = now


async def _sleep(waiter: Waiter) -> None:
    """Wait for a poke (a timer, a release, a new head, ...); return at once if one came."""
    if waiter.poked:
        waiter.poked = False
        return
    wake = asyncio.get_running_loop().create_future()
    waiter.wake = wake
    try:
        await wake
    finally:
        waiter.wake = None
        waiter.poked = False


def _late(wait: float, left: float) -> LimiterRefused:
    return LimiterRefused(f"deadline: would wait {wait:.3f} s, {max(0.0, left):.3f} s left", wait)
