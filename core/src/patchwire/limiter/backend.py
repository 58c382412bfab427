"""Where bucket levels live: the backend protocol and the in-process implementation.

Every operation names a limiter ``key`` and a list of :class:`BucketOp`, one per window,
and is atomic across that list: a shared backend (Redis in contrib) runs each one as a
single script, so many processes draw on one quota. The caller passes ``now`` from its
clock; a shared backend may substitute its own time source as long as it is monotonic.

A bucket never seen before starts full. Operations take the capacity and rate in effect
from the caller, so the stored state per window is only a level and a timestamp.

Cancellation: an operation must look all-or-nothing to a caller that is cancelled while
awaiting it. :class:`MemoryBackend` never suspends, so it cannot be interrupted; a remote
backend must refund a charge that its server committed after the caller went away.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from patchwire.limiter.bucket import AcquireResult, BucketOp, refill, slack, wait_for

__all__ = ["LimiterBackend", "MemoryBackend"]


class LimiterBackend(Protocol):
    async def try_acquire(self, key: str, ops: Sequence[BucketOp], now: float) -> AcquireResult:
        """Charge every ``op.amount`` if every window holds it; otherwise charge nothing."""
        ...

    async def adjust(self, key: str, ops: Sequence[BucketOp], now: float) -> tuple[float, ...]:
        """Charge each signed ``op.amount`` unconditionally (debt allowed; refunds stop at
        capacity) and return the new levels."""
        ...

    async def lower_to(self, key: str, ops: Sequence[BucketOp], now: float) -> tuple[float, ...]:
        """Set each level to min(its level now, ``op.amount``) and return the new levels."""
        ...


class MemoryBackend:
    """Buckets in a dict, for one process. No awaits inside an operation, so each one is
    atomic with respect to every other task on the loop."""

    __slots__ = ("_buckets",)

    def __init__(self) -> None:
        # (key, window) -> [level, stamp]; one entry per configured window, never per request
        self._buckets: dict[tuple[str, str], list[float]] = {}

    def _levels(self, key: str, ops: Sequence[BucketOp], now: float) -> list[list[float]]:
        cells = []
        for op in ops:
            cell = self._buckets.get((key, op.window))
            if cell is None:
                cell = self._buckets[(key, op.window)] = [op.capacity, now]
            else:
                cell[0] = refill(cell[0], cell[1], now, op.capacity, op.rate)
                cell[1] = max(cell[1], now)
            cells.append(cell)
        return cells

    async def try_acquire(self, key: str, ops: Sequence[BucketOp], now: float) -> AcquireResult:
        cells = self._levels(key, ops, now)
        wait = 0.0
        for op, cell in zip(ops, cells, strict=True):
            if cell[0] < op.amount - slack(op.capacity):
                wait = max(wait, wait_for(cell[0], op.amount, op.rate))
        if wait > 0.0:
            return AcquireResult(False, wait, tuple(cell[0] for cell in cells))
        for op, cell in zip(ops, cells, strict=True):
            # the slack may leave a rounding error below zero; it is not debt, so drop it
            cell[0] = max(0.0, cell[0] - op.amount) if cell[0] >= 0.0 else cell[0] - op.amount
        return AcquireResult(True, 0.0, tuple(cell[0] for cell in cells))

    async def adjust(self, key: str, ops: Sequence[BucketOp], now: float) -> tuple[float, ...]:
        cells = self._levels(key, ops, now)
        for op, cell in zip(ops, cells, strict=True):
            cell[0] = min(op.capacity, cell[0] - op.amount)
        return tuple(cell[0] for cell in cells)

    async def lower_to(self, key: str, ops: Sequence[BucketOp], now: float) -> tuple[float, ...]:
        cells = self._levels(key, ops, now)
        for op, cell in zip(ops, cells, strict=True):
            cell[0] = min(cell[0], op.amount)
        return tuple(cell[0] for cell in cells)

    def __repr__(self) -> str:
        return f"MemoryBackend(buckets={len(self._buckets)})"
