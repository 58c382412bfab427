"""Token-bucket arithmetic, shared by every backend and by the limiter's local view.

A bucket is two numbers, ``level`` and the instant ``stamp`` it was measured at; refill is
computed lazily from the elapsed time, so an idle bucket costs nothing and no history is
kept. Backends receive the capacity and rate in effect with every operation, which keeps
their state to those two numbers per window and lets a Redis script do the same sums.
"""

from __future__ import annotations

import math

import attrs

__all__ = ["AcquireResult", "BucketSpec", "refill", "slack", "wait_for"]


@attrs.frozen(slots=True)
class BucketSpec:
    """A window's shape in effect now: what it holds at most and its refill per second.

    Backend operations take one spec per window and a matching sequence of amounts; the
    specs change only when the rates adapt, so the limiter builds them rarely.
    """

    window: str
    capacity: float
    rate: float


@attrs.frozen(slots=True)
class AcquireResult:
    """``ok``: charged on every window; otherwise nothing was charged and ``wait`` is the
    time until every window would hold its cost at the current rates (``inf`` if never).
    ``levels`` are the windows' levels after the operation, in the order asked."""

    ok: bool
    wait: float
    levels: tuple[float, ...]


def refill(level: float, stamp: float, now: float, capacity: float, rate: float) -> float:
    """The level at ``now``: refilled at ``rate`` since ``stamp``, never above ``capacity``.

    A level already above capacity (the capacity was lowered) drops to it; debt (a
    negative level) is repaid by the same refill.
    """
    return min(capacity, level + rate * max(0.0, now - stamp))


def slack(capacity: float) -> float:
    """How far below a cost a level may be and still pay it.

    Waits are computed as deficit/rate and then turned back into a level by adding
    rate*elapsed, which can land a rounding error short; without this allowance the waiter
    woken at the computed instant would be refused by an amount no one could measure.
    """
    return 1e-9 * max(1.0, capacity)


def wait_for(level: float, cost: float, rate: float) -> float:
    """Seconds until ``level`` refilled at ``rate`` holds ``cost`` (0 if it already does)."""
    deficit = cost - level
    if deficit <= 0:
        return 0.0
    if rate <= 0:
        return math.inf
    return deficit / rate
