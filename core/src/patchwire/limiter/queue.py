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

from patchwire.clock import Handle

__all__ = ["WaitQueue", "Waiter"]


class Waiter:
    """One queued ``acquire``: its request and the means to wake it."""

    __slots__ = (
        "arrival",
        "deadline",
        "expiry",
        "poked",
        "priority",
        "queued",
        "seq",
        "timer",
        "tokens",
        "wake",
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
        self.expiry: Handle | None = None

    def poke(self) -> None:
        self.poked = True
        if self.wake is not None and not self.wake.done():
            self.wake.set_result(None)


class WaitQueue:
    """A heap of waiters with lazy removal, plus per-priority totals for estimates."""

    __slots__ = ("_aging", "_dead", "_heap", "_levels", "_live", "_seq")

    def __init__(self, aging: float) -> None:
        if aging < 0:
            raise ValueError(f"aging must be >= 0, got {aging!r}")
        self._aging = aging
        self._heap: list[tuple[float, int, Waiter]] = []
        self._seq = itertools.count()
        self._live = 0
        self._dead = 0
        # priority -> [waiters, tokens]; few distinct priorities in practice
        self._levels: dict[int, list[int]] = {}

    def __len__(self) -> int:
        return self._live

    def push(self, waiter: Waiter) -> None:
        waiter.seq = next(self._seq)
        waiter.queued = True
        key = self._aging * waiter.arrival - waiter.priority
        heapq.heappush(self._heap, (key, waiter.seq, waiter))
        self._live += 1
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
        self._live -= 1
        self._dead += 1
        level = self._levels[waiter.priority]
        level[0] -= 1
        level[1] -= waiter.tokens
        if level[0] == 0:
            del self._levels[waiter.priority]
        if self._dead > 64 and self._dead > self._live:
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
