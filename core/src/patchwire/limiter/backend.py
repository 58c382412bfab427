"""Where bucket levels live: the backend protocol and the in-process implementation.

Every operation names a limiter ``key``, the windows' :class:`BucketSpec` (capacity and
rate in effect) and one amount per window, and is atomic across those windows: a shared
backend (Redis in contrib) runs each operation as a single script over the keys
``key:window``, so many processes draw on one quota. The stored state per window is only
a level and a timestamp; a bucket never seen before starts full. The caller passes
``now`` from its clock; a shared backend may substitute its own time source as long as it
is monotonic.

Cancellation: an operation must look all-or-nothing to a caller that is cancelled while
awaiting it. :class:`MemoryBackend` never suspends, so it cannot be interrupted; a remote
backend must refund a charge that its server committed after the caller went away.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter
from typing import Protocol

from patchwire.limiter.bucket import AcquireResult, BucketSpec, refill, slack, wait_for

__all__ = ["Lane", "LimiterBackend", "MemoryBackend", "take"]

# A cell's level, read in C: every admission returns the levels of all its windows.
_level = itemgetter(0)

#: one window of an admission: its ``[level, stamp]`` cell, its spec, the cost asked of it
Lane = tuple[list[float], BucketSpec, float]


class LimiterBackend(Protocol):
    async def try_acquire(
        self, key: str, specs: Sequence[BucketSpec], costs: Sequence[float], now: float
    ) -> AcquireResult:
        """Take each cost from its window if every window holds it; otherwise take nothing."""
        ...

    async def adjust(
        self, key: str, specs: Sequence[BucketSpec], deltas: Sequence[float], now: float
    ) -> tuple[float, ...]:
        """Take each signed delta unconditionally (debt allowed; a refund stops at
        capacity) and return the new levels."""
        ...

    async def lower_to(
        self, key: str, specs: Sequence[BucketSpec], ceilings: Sequence[float], now: float
    ) -> tuple[float, ...]:
        """Set each level to min(its level now, its ceiling) and return the new levels."""
        ...


class MemoryBackend:
    """Buckets in a dict, for one process. No awaits inside an operation, so each one is
    atomic with respect to every other task on the loop."""

    __slots__ = ("_buckets",)

    def __init__(self) -> None:
        # key -> window -> [level, stamp]: one cell per configured window, none per request
        self._buckets: dict[str, dict[str, list[float]]] = {}

    def cells(self, key: str, specs: Sequence[BucketSpec], now: float) -> list[list[float]]:
        """The ``[level, stamp]`` cells of ``key``'s windows, in the order of ``specs``, as
        stored (a bucket never seen before starts full). A cell is never replaced, so the
        limiter may keep them and charge them with :func:`take` without a coroutine."""
        windows = self._buckets.get(key)
        if windows is None:
            windows = self._buckets[key] = {}
        cells = []
        for spec in specs:
            cell = windows.get(spec.window)
            if cell is None:
                cell = windows[spec.window] = [spec.capacity, now]
            cells.append(cell)
        return cells

    def _refilled(self, key: str, specs: Sequence[BucketSpec], now: float) -> list[list[float]]:
        cells = self.cells(key, specs, now)
        for spec, cell in zip(specs, cells, strict=True):
            cell[0] = refill(cell[0], cell[1], now, spec.capacity, spec.rate)
            if now > cell[1]:  # the stamp never goes back
                cell[1] = now
        return cells

    async def try_acquire(
        self, key: str, specs: Sequence[BucketSpec], costs: Sequence[float], now: float
    ) -> AcquireResult:
        cells = self.cells(key, specs, now)
        wait = take(tuple(zip(cells, specs, costs, strict=True)), now)
        return AcquireResult(not wait, wait, tuple(map(_level, cells)))

    async def adjust(
        self, key: str, specs: Sequence[BucketSpec], deltas: Sequence[float], now: float
    ) -> tuple[float, ...]:
        cells = self._refilled(key, specs, now)
        for spec, delta, cell in zip(specs, deltas, cells, strict=True):
            cell[0] = min(spec.capacity, cell[0] - delta)
        return tuple(cell[0] for cell in cells)

    async def lower_to(
        self, key: str, specs: Sequence[BucketSpec], ceilings: Sequence[float], now: float
    ) -> tuple[float, ...]:
        cells = self._refilled(key, specs, now)
        for ceiling, cell in zip(ceilings, cells, strict=True):
            cell[0] = min(cell[0], ceiling)
        return tuple(cell[0] for cell in cells)

    def __repr__(self) -> str:
        return f"MemoryBackend(keys={len(self._buckets)})"


def take(lanes: Sequence[Lane], now: float) -> float:
    """Refill each lane's cell to ``now``, then charge each its cost if every one holds it
    and return 0.0; otherwise charge nothing and return the wait until every one would.

    The limiter calls this on every admission that need not wait, so the admitted path
    makes no Python call: :func:`refill` is written out and the slack is only looked up
    for a level short of its cost.
    """
    wait = 0.0
    for cell, spec, cost in lanes:
        level, stamp = cell
        if now > stamp:  # the stamp never goes back
            level += spec.rate * (now - stamp)
            cell[1] = now
        if level > spec.capacity:
            level = spec.capacity
        cell[0] = level
        if level < cost and level < cost - slack(spec.capacity):
            wait = max(wait, wait_for(level, cost, spec.rate))
    if wait > 0.0:
        return wait
    for cell, _, cost in lanes:
        level = cell[0]
        # the slack may leave a rounding error below zero; it is not debt, so drop it
        cell[0] = 0.0 if level - cost < 0.0 <= level else level - cost
    return 0.0
