"""A retry budget per connector: retries stay a bounded share of the calls being made.

In the spirit of gRPC retry throttling and Finagle's retry budget: each logical call
deposits ``ratio`` of a retry into a balance, time deposits ``min_per_second`` (so a quiet
connector can still retry), and each retry withdraws one whole retry. The balance never
exceeds ``burst``, which gives the guarantee the tests prove: over any stretch of time of
length ``T``,

    granted retries <= burst + ratio * calls + min_per_second * T

A provider that fails now and then barely touches the balance; one that fails every call
gets at most about ``1 + ratio`` attempts per call instead of ``max_attempts``.
"""

from __future__ import annotations

import math

import attrs

from patchwire.breaker import WindowCounts
from patchwire.clock import Clock

__all__ = ["BudgetSnapshot", "RetryBudget"]

# Deposits of a fractional ratio (0.1 * 10) may sum to just under one whole retry.
_EPSILON = 1e-9


@attrs.frozen(slots=True)
class BudgetSnapshot:
    """Calls and retries over the last ``window`` seconds, and whether a retry would pass."""

    requests_in_window: int
    retries_in_window: int
    allowed_now: bool
    balance: float


class RetryBudget:
    """How many retries a connector may still make.

    ``ratio``: retries earned per logical call. ``min_per_second``: retries earned per
    second regardless of traffic. ``burst``: the most retries that may be saved up, and
    the balance a new budget starts with (>= 1, or no retry could ever pass). ``window``:
    the span :meth:`snapshot` reports counts over; it does not change any decision.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        ratio: float = 0.5,
        min_per_second: float = 1.0,
        burst: float = 10.0,
        window: float = 10.0,
    ) -> None:
        if not (math.isfinite(ratio) and ratio >= 0):
            raise ValueError(f"ratio must be a finite number >= 0, got {ratio}")
        if not (math.isfinite(min_per_second) and min_per_second >= 0):
            raise ValueError(f"min_per_second must be a finite number >= 0, got {min_per_second}")
        if not (math.isfinite(burst) and burst >= 1):
            raise ValueError(f"burst must be a finite number >= 1, got {burst}")
        self._clock = clock
        self._ratio = ratio
        self._min_per_second = min_per_second
        self._burst = burst
        # (requests, retries) per second, for reporting only.
        self._counts = WindowCounts(window)
        self._balance = burst
        self._updated = clock.now()

    def record_request(self) -> None:
        """Count one logical call (its first attempt); it earns ``ratio`` of a retry."""
        now = self._refill()
        self._balance = min(self._burst, self._balance + self._ratio)
        self._counts.add(now, first=1)

    def try_spend(self) -> bool:
        """Charge one retry if the budget allows it; False means do not retry."""
        now = self._refill()
        if self._balance < 1.0 - _EPSILON:
            return False
        self._balance -= 1.0
        self._counts.add(now, second=1)
        return True

    def snapshot(self) -> BudgetSnapshot:
        now = self._refill()
        requests, retries = self._counts.totals(now)
        return BudgetSnapshot(
            requests_in_window=requests,
            retries_in_window=retries,
            allowed_now=self._balance >= 1.0 - _EPSILON,
            balance=self._balance,
        )

    def _refill(self) -> float:
        now = self._clock.now()
        elapsed = max(0.0, now - self._updated)
        self._balance = min(self._burst, self._balance + self._min_per_second * elapsed)
        self._updated = max(self._updated, now)
        return now

    def __repr__(self) -> str:
        return f"RetryBudget(balance={self._balance:.3f}, burst={self._burst})"
