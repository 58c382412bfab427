"""One source of time for everything that waits or measures.

Every component takes a :class:`Clock` so that tests can swap in :class:`VirtualClock`
and run retry schedules, limiter refills and breaker windows without sleeping.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from types import TracebackType
from typing import Protocol

__all__ = ["Clock", "Handle", "MonotonicClock", "VirtualClock", "deadline_scope"]


class Handle(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    """Monotonic seconds, sleeping and timed callbacks."""

    def now(self) -> float: ...

    async def sleep(self, delay: float) -> None: ...

    def call_at(self, when: float, callback: Callable[[], None]) -> Handle: ...


class MonotonicClock:
    """The real clock: ``time.monotonic`` and the running loop's timers.

    The default asyncio loop also measures with ``time.monotonic``, so ``call_at`` can
    hand our instants straight to ``loop.call_at``.
    """

    __slots__ = ()

    # The C function itself, not a method calling it: a call reads the clock about ten
    # times, and a Python frame around each reading cost more than the reading.
    now = staticmethod(time.monotonic)

    async def sleep(self, delay: float) -> None:
        await asyncio.sleep(max(0.0, delay))

    def call_at(self, when: float, callback: Callable[[], None]) -> Handle:
        loop = asyncio.get_running_loop()
        if type(loop).time is asyncio.BaseEventLoop.time:
            # The standard loops measure with time.monotonic: hand the instant over as is.
            # Converting through two clock readings would fire the timer a hair early.
            return loop.call_at(when, callback)
        return loop.call_at(loop.time() + (when - time.monotonic()), callback)

    def __repr__(self) -> str:
        return "MonotonicClock()"


class _VirtualHandle:
    __slots__ = ("callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class VirtualClock:
    """A clock that only moves when told to, or when every task is waiting on it.

    With ``autojump=True`` (the default) a sleeper that would block the whole program
    makes time jump straight to the earliest pending timer, so a test with a 30 s
    backoff finishes in microseconds and always in the same order.
    """

    def __init__(self, start: float = 0.0, *, autojump: bool = True, idle_spins: int = 20) -> None:
        self._now = start
        self._timers: list[tuple[float, int, _VirtualHandle]] = []
        self._seq = itertools.count()
        self._autojump = autojump
        self._idle_spins = idle_spins
        self._driver: asyncio.Task[None] | None = None

    def now(self) -> float:
        return self._now

    def call_at(self, when: float, callback: Callable[[], None]) -> Handle:
        handle = _VirtualHandle(when, callback)
        heapq.heappush(self._timers, (when, next(self._seq), handle))
        if when <= self._now:
            self._fire_due()
        else:
            self._ensure_driver()
        return handle

    async def sleep(self, delay: float) -> None:
        if delay <= 0:
            await asyncio.sleep(0)
            return
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            if not fut.done():
                fut.set_result(None)

        handle = self.call_at(self._now + delay, wake)
        try:
            await fut
        finally:
            handle.cancel()

    def advance(self, delta: float) -> None:
        """Move time forward by ``delta`` seconds, firing every timer that falls due."""
        if delta < 0:
            raise ValueError("a clock never goes backwards; delta must be >= 0")
        target = self._now + delta
        while self._timers and self._timers[0][0] <= target:
            when, _, handle = heapq.heappop(self._timers)
            self._now = max(self._now, when)
            if not handle.cancelled:
                handle.callback()
        self._now = target

    def pending(self) -> int:
        return sum(1 for _, _, h in self._timers if not h.cancelled)

    def _fire_due(self) -> None:
        while self._timers and self._timers[0][0] <= self._now:
            _, _, handle = heapq.heappop(self._timers)
            if not handle.cancelled:
                handle.callback()

    def _ensure_driver(self) -> None:
        if not self._autojump or (self._driver is not None and not self._driver.done()):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._driver = loop.create_task(self._drive(), name="patchwire-virtual-clock")

    async def _drive(self) -> None:
        # Let every runnable task run first; only when the program is idle does time jump.
        while True:
            for _ in range(self._idle_spins):
                await asyncio.sleep(0)
            while self._timers and self._timers[0][2].cancelled:
                heapq.heappop(self._timers)
            if not self._timers:
                return
            when = self._timers[0][0]
            self.advance(max(0.0, when - self._now))

    def __repr__(self) -> str:
        return f"VirtualClock(now={self._now!r}, pending={self.pending()})"


def deadline_scope(clock: Clock, when: float | None) -> AbstractContextManager[None]:
    """Cancel the current task at ``when`` and turn that into ``TimeoutError``.

    Works on any :class:`Clock`, so per-attempt timeouts run on the virtual clock too.
    A cancellation that came from elsewhere is left alone and propagates unchanged.
    """
    if when is None:
        return _NO_DEADLINE
    return _DeadlineScope(clock, when)


#: reusable: nullcontext holds no state between uses
_NO_DEADLINE: AbstractContextManager[None] = nullcontext()


class _DeadlineScope:
    """One object per scope, its timer calling a method, where a generator-based
    context manager cost a generator, its wrapper, a closure and two cells: every attempt
    and every stream chunk opens one (issue 19, GC-tracked objects per call)."""

    __slots__ = ("_clock", "_fired", "_handle", "_task", "_when")

    def __init__(self, clock: Clock, when: float) -> None:
        self._clock = clock
        self._when = when
        self._fired = False

    def __enter__(self) -> None:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("deadline_scope needs a running task")
        self._task = task
        if self._when <= self._clock.now():
            raise TimeoutError("deadline already passed")
        self._handle = self._clock.call_at(self._when, self._expire)

    def _expire(self) -> None:
        self._fired = True
        self._task.cancel()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._handle.cancel()
        if (
            kind is not None
            and issubclass(kind, asyncio.CancelledError)
            and self._fired
            and self._task.uncancel() == 0
        ):
            raise TimeoutError("deadline exceeded") from None
