"""The waiting line: effective priority with aging, then arrival.

A waiter's effective priority at time t is ``priority + aging * (t - arrival)``. Every
waiter ages at the same pace, so the order between two waiters never changes while they
wait: sorting on the constant ``priority - aging * arrival`` (then on arrival) gives the
order at every instant, and a plain heap holds it.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math

from patchwire.clock import Clock, Handle

__all__ = ["Expiries", "WaitQueue", "Waiter"]


class Waiter:
    """One queued ``acquire``: its request and the means to wake it."""

    __slots__ = (
        "arrival",
        "deadline",
        "poked",
        "priority",
        "queued",
        "seq",
        "timer",
        "tokens",
        "wake",
        "watched",
    )

    def __init__(self, priority: int, tokens: int, arrival: float, deadline: float | None) -> None:
        self.priority = priority
        self.tokens = tokens
        self.arrival = arrival
        self.deadline = deadline
        self.seq = 0
        self.queued = False
        # a poke that lands while the waiter is running is remembered, not lost
        self.poked = False
        self.wake: asyncio.Future[None] | None = None
        self.timer: Handle | None = None
        # in the Expiries heap
        self.watched = False

    def poke(self) -> None:
        self.poked = True
        if self.wake is not None and not self.wake.done():
            self.wake.set_result(None)


class WaitQueue:
    """A heap of waiters with lazy removal, plus per-priority totals for estimates."""

    __slots__ = ("_aging", "_dead", "_heap", "_levels", "_seq", "live")

    def __init__(self, aging: float) -> None:
        if aging < 0:
            raise ValueError(f"aging must be >= 0, got {aging!r}")
        self._aging = aging
        self._heap: list[tuple[float, int, Waiter]] = []
        self._seq = itertools.count()
        #: waiters in the line (the heap also holds removed ones until they surface)
        self.live = 0
        self._dead = 0
        # priority -> [waiters, tokens]; few distinct priorities in practice
        self._levels: dict[int, list[int]] = {}

    def __len__(self) -> int:
        return self.live

    def push(self, waiter: Waiter) -> None:
        waiter.seq = next(self._seq)
        waiter.queued = True
        key = self._aging * waiter.arrival - waiter.priority
        heapq.heappush(self._heap, (key, waiter.seq, waiter))
        self.live += 1
        level = self._levels.get(waiter.priority)
        if level is None:
            self._levels[waiter.priority] = [1, waiter.tokens]
        else:
            level[0] += 1
            level[1] += waiter.tokens

    def head(self) -> Waiter | None:
        heap = self._heap
        while heap and not heap[0][2].queued:
            heapq.heappop(heap)
            self._dead -= 1
        return heap[0][2] if heap else None

    def remove(self, waiter: Waiter) -> None:
        if not waiter.queued:
            return
        waiter.queued = False
        self.live -= 1
        self._dead += 1
        level = self._levels[waiter.priority]
        level[0] -= 1
        level[1] -= waiter.tokens
        if level[0] == 0:
            del self._levels[waiter.priority]
        if self._dead > 64 and self._dead > self.live:
            # cancelled waiters deep in the line would otherwise pile up behind a stuck head
            self._heap = [entry for entry in self._heap if entry[2].queued]
            heapq.heapify(self._heap)
            self._dead = 0

    def ahead(self, priority: int) -> tuple[int, int]:
        """(waiters, tokens) queued at ``priority`` or above: all of them are ahead of a
        newcomer at ``priority``. Aged waiters of lower priority may be ahead too; they
        are not counted, so estimates built on this are lower bounds."""
        count = tokens = 0
        for level, (n, t) in self._levels.items():
            if level >= priority:
                count += n
                tokens += t
        return count, tokens


class Expiries:
    """Wakes queued waiters at their deadlines with a single clock timer.

    One timer per waiter would put thousands of handles in the event loop's heap; here a
    heap of (deadline, seq, waiter) is kept and one timer is armed for its earliest live
    entry. Waiters that leave are dropped lazily.
    """

    __slots__ = ("_armed", "_clock", "_dead", "_heap", "_timer")

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._heap: list[tuple[float, int, Waiter]] = []
        self._dead = 0
        self._timer: Handle | None = None
        self._armed = math.inf

    def watch(self, waiter: Waiter, deadline: float) -> None:
        """Poke ``waiter`` at ``deadline`` (which must lie ahead) unless it leaves first."""
        waiter.watched = True
        heapq.heappush(self._heap, (deadline, waiter.seq, waiter))
        if deadline < self._armed:
            self._arm(deadline)

    def forget(self, waiter: Waiter) -> None:
        if not waiter.watched:
            return
        waiter.watched = False
        self._dead += 1
        if self._dead == len(self._heap):
            self._heap.clear()
            self._dead = 0
            self._disarm()
        elif self._dead > 64 and 2 * self._dead > len(self._heap):
            self._heap = [entry for entry in self._heap if entry[2].watched]
            heapq.heapify(self._heap)
            self._dead = 0

    def _fire(self) -> None:
        self._timer = None
        self._armed = math.inf
        now = self._clock.now()
        heap = self._heap
        while heap and (heap[0][0] <= now or not heap[0][2].watched):
            _, _, waiter = heapq.heappop(heap)
            if waiter.watched:
                waiter.watched = False
                waiter.poke()
            else:
                self._dead -= 1
        if heap:
            self._arm(heap[0][0])

    def _arm(self, when: float) -> None:
        self._disarm()
        self._armed = when
        self._timer = self._clock.call_at(when, self._fire)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._armed = math.inf
