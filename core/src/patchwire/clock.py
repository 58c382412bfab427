"""One source of time for everything that waits or measures.

Every component takes a :class:`Clock` so that tests can swap in :class:`VirtualClock`
and run retry schedules, limiter refills and breaker windows without sleeping.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import sys
import time
import weakref
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from types import TracebackType
from typing import Any, Protocol

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
    if type(clock) is MonotonicClock:
        # _SharedScope(when) with its two slots stored here: every attempt opens one, and
        # the type call into __init__ cost more than the stores.
        scope = _new(_SharedScope)
        scope._when = when
        scope._state = _OPEN
        return scope
    return _DeadlineScope(clock, when)


_new = object.__new__


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


# A shared scope's state: open (its deadline pending), closed (left before it), fired.
_OPEN, _CLOSED, _FIRED = 0, 1, 2

# The running task of a loop, asked on every attempt's scope. From 3.12 that is
# asyncio.current_task, in C; on 3.11 it is a Python function around a lookup in the
# loops' running tasks (the mapping _asyncio keeps, its tasks module's _current_tasks),
# and its frame cost more than the lookup. 3.11's asyncio no longer changes.
_task_of: Callable[[asyncio.AbstractEventLoop], asyncio.Task[Any] | None]
if sys.version_info >= (3, 12):
    _task_of = asyncio.current_task
else:
    _task_of = asyncio.tasks._current_tasks.get  # type: ignore[attr-defined]


class _SharedScope:
    """A deadline scope on the monotonic clock: registered with its loop's
    :class:`_Deadlines` instead of arming a loop timer of its own. Arming and cancelling
    an asyncio ``TimerHandle`` per attempt and per stream chunk was a tenth of a call's
    cost on the in-process path (issue 19); a list entry and a counter are far cheaper.
    Otherwise it behaves as :class:`_DeadlineScope`. Entering and leaving update the
    hub's list and count themselves: they run on every attempt, and a method call each
    way cost more than the update (issue 19)."""

    __slots__ = ("_hub", "_state", "_task", "_when")

    def __init__(self, when: float) -> None:
        self._when = when
        self._state = _OPEN

    def __enter__(self) -> None:
        loop = asyncio.get_running_loop()
        task = _task_of(loop)
        if task is None:
            raise RuntimeError("deadline_scope needs a running task")
        when = self._when
        if when <= time.monotonic():
            raise TimeoutError("deadline already passed")
        self._task = task
        hub = _shared
        if hub is None or hub.loop() is not loop:
            hub = _deadlines_for(loop)
        self._hub = hub
        scopes = hub.scopes
        scopes.append(self)
        hub.open += 1
        if when < hub.armed:
            hub.arm(when)
        elif len(scopes) > 2 * hub.open + 64:
            hub.prune()

    def _expire(self) -> None:
        self._state = _FIRED
        self._task.cancel()

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if self._state == _OPEN:
            self._state = _CLOSED
            hub = self._hub
            hub.open -= 1
            if not hub.open:
                hub.scopes.clear()  # every entry is dead: no need to wait for them to go
        elif issubclass(kind or object, asyncio.CancelledError) and self._task.uncancel() == 0:
            raise TimeoutError("deadline exceeded") from None


def _deadline_of(scope: _SharedScope) -> float:
    return scope._when


class _Deadlines:
    """Every open deadline scope of one event loop on the monotonic clock, in the order
    they were opened, behind one loop timer armed for the earliest deadline.

    A scope left before its deadline (nearly all of them) is only counted out: its entry
    is dropped when no scope is open any more (the list is emptied), when the timer
    fires, or when dead entries outnumber the open ones. The timer is re-armed only for a
    deadline earlier than the one it waits for, so calls with the same timeout, whose
    deadlines only grow, never touch it; when it fires it expires every open scope that
    is due, in deadline order as separate timers would (equal deadlines in the order they
    were set), and waits for the earliest open one left. A plain list, not a heap: an
    append per scope costs less than a push, and only a firing walks the list, which
    comes about once per timeout (each firing arms for the oldest open scope's
    deadline), not once per scope."""

    __slots__ = ("_clock", "_handle", "armed", "loop", "open", "scopes")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        # Weakly: the hub outlives a loop that asyncio.run closed, never keeps it alive.
        self.loop = weakref.ref(loop)
        self._clock = MonotonicClock()
        self.scopes: list[_SharedScope] = []
        self.open = 0
        self.armed = math.inf
        self._handle: Handle | None = None

    def prune(self) -> None:
        """Drop the entries of scopes no longer open, keeping the others' order."""
        self.scopes = [scope for scope in self.scopes if scope._state == _OPEN]

    def arm(self, when: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle = self._clock.call_at(when, self._fire)
        self.armed = when

    def _fire(self) -> None:
        due = max(self.armed, time.monotonic())
        self._handle = None
        self.armed = math.inf
        waiting: list[_SharedScope] = []
        expired: list[_SharedScope] = []
        for scope in self.scopes:
            if scope._state == _OPEN:
                (expired if scope._when <= due else waiting).append(scope)
        self.scopes = waiting
        self.open -= len(expired)
        expired.sort(key=_deadline_of)  # stable: equal deadlines in the order they were set
        for scope in expired:
            scope._expire()
        if waiting:
            self.arm(min(map(_deadline_of, waiting)))


#: the hub of the loop that last opened a scope (one loop at a time, nearly always)
_shared: _Deadlines | None = None


def _deadlines_for(loop: asyncio.AbstractEventLoop) -> _Deadlines:
    """A new hub for a loop other than the last one's. A scope keeps the hub it joined,
    so one still open on another loop is expired by that loop's own timer."""
    global _shared
    _shared = hub = _Deadlines(loop)
    return hub
