"""A retry budget per connector: retries stay a bounded share of the calls being made.

The budget is for a provider that is down, not one that fails now and then. It has two
parts, both per connector:

* **A healthy-share gate.** A retry is granted outright while the retries asked for over
  the last ``window`` seconds (this one included, granted or not) are at most ``ratio``
  times the logical calls made in it. Independent failures at rate ``p`` ask for about
  ``p / (1 - p)`` retries per call (0.43 at 30 %), under the default ``ratio`` of 0.5, so
  an ordinarily flaky provider is not held to a saved-up stock, however many callers run
  at once. A dead provider asks for at least one retry per call, so the gate stays shut
  for it once its first failures are in the window.
* **A balance**, in the spirit of gRPC retry throttling and Finagle's retry budget, for the
  retries the gate refuses: each logical call deposits ``ratio`` of a retry, time deposits
  ``min_per_second`` (so a quiet connector can still retry), and each such retry withdraws
  one whole retry. A new budget starts at ``burst``; the balance may save up to ``burst``
  or ``ratio`` times the calls of the last window, whichever is more.

Why both, and why that cap: a balance capped at a fixed ``burst`` throws away the deposits
of calls still in flight, so with many concurrent callers the retries they go on to ask
for exceed it by chance alone (at 20 % failures, 32 callers and 8 attempts, 1-5 calls in
600 were refused). The gate compares rates, not a stock, so it needs no reserve; the
elastic cap keeps the reserve in proportion to the traffic for when the gate is shut.

The invariants the tests prove: a retry is refused only when the gate is shut (more than
``ratio`` retries asked per call over the window) and the balance is below one; and over
any stretch of time of length ``T``, with ``R`` the calls made in it and ``R'`` the calls
made in it and in the ``window`` before it,

    granted retries <= burst + min_per_second * T + ratio * R + 2 * ratio * R'

(the gate grants at most ``ratio * R'``; the balance holds at most ``burst`` or
``ratio * R'`` when the stretch begins). From a fresh budget the balance adds at most
``burst + ratio * calls + min_per_second * T``, and for a dead provider, which asks for a
retry on every call, the gate opens only while the first failures of a burst of calls are
still arriving, so its load tends to ``1 + ratio`` attempts per call (1.5 by default)
instead of ``max_attempts``.
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
    """Calls and retries over the last ``window`` seconds, and whether a retry would pass.

    ``asked_in_window`` counts retries asked for, granted or refused; ``gate_open`` says
    whether the next one would pass the healthy-share gate without touching ``balance``.
    """

    requests_in_window: int
    retries_in_window: int
    allowed_now: bool
    balance: float
    asked_in_window: int = 0
    gate_open: bool = False


class RetryBudget:
    """How many retries a connector may still make.

    ``ratio``: retries per logical call that pass the gate, and that each call deposits in
    the balance. ``min_per_second``: retries earned per second regardless of traffic.
    ``burst``: the most retries the balance may save up, and the balance a new budget
    starts with (>= 1, or a dead provider could never retry). ``window``: the span the gate
    and :meth:`snapshot` count over.
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
        # (requests, retries granted) and (retries asked for, unused) per second.
        self._counts = WindowCounts(window)
        self._asked = WindowCounts(window)
        self._balance = burst
        self._updated = clock.now()

    def record_request(self) -> None:
        """Count one logical call (its first attempt); it earns ``ratio`` of a retry."""
        now = self._clock.now()
        # One read of the window serves both caps: the call counted here adds exactly one
        # request to it (the slot of ``now`` is always inside the window), and counting it
        # returns the requests before it.
        requests = self._counts.count(now)
        # _refill_to(now, requests), written out: every call runs it.
        balance = self._balance
        if now > self._updated:
            balance += self._min_per_second * (now - self._updated)
            self._updated = now
        ratio = self._ratio
        burst = self._burst
        cap = ratio * requests
        if not cap > burst:
            cap = burst
        if not balance < cap:
            balance = cap
        # Its deposit, capped for the window with this call in it (see _refill_to).
        cap = ratio * (requests + 1)
        if not cap > burst:
            cap = burst
        balance += ratio
        self._balance = balance if balance < cap else cap

    def try_spend(self) -> bool:
        """Ask for one retry: True means retry, False means do not."""
        now = self._refill()
        self._asked.add(now, 1)
        if self._gate_open(now, extra=0):
            self._counts.add(now, 0, 1)
            return True
        if self._balance < 1.0 - _EPSILON:
            return False
        self._balance -= 1.0
        self._counts.add(now, 0, 1)
        return True

    def snapshot(self) -> BudgetSnapshot:
        now = self._refill()
        requests, retries = self._counts.totals(now)
        asked, _ = self._asked.totals(now)
        gate = self._gate_open(now, extra=1)
        return BudgetSnapshot(
            requests_in_window=requests,
            retries_in_window=retries,
            allowed_now=gate or self._balance >= 1.0 - _EPSILON,
            balance=self._balance,
            asked_in_window=asked,
            gate_open=gate,
        )

    def _gate_open(self, now: float, *, extra: int) -> bool:
        """Whether retries asked (plus ``extra`` not yet counted) are within ``ratio`` per call."""
        requests, _ = self._counts.totals(now)
        asked, _ = self._asked.totals(now)
        return asked + extra <= self._ratio * requests + _EPSILON

    def _refill(self) -> float:
        now = self._clock.now()
        requests, _ = self._counts.totals(now)
        self._refill_to(now, requests)
        return now

    def _refill_to(self, now: float, requests: int) -> None:
        """Add time's deposits up to ``now``, the balance capped for ``requests`` calls in
        the window.

        The cap is ``max(burst, ratio * requests)``: the deposits of calls still in flight
        are kept for the retries they may ask for, where a fixed cap would throw them away
        whenever many calls run at once. Only dropping deposits depends on the cap, so it
        cannot raise the bound on granted retries. Comparisons are written out here and in
        :meth:`record_request` rather than min and max calls: every call refills.
        """
        balance = self._balance
        if now > self._updated:
            balance += self._min_per_second * (now - self._updated)
            self._updated = now
        cap = self._ratio * requests
        if not cap > self._burst:
            cap = self._burst
        self._balance = balance if balance < cap else cap

    def __repr__(self) -> str:
        return f"RetryBudget(balance={self._balance:.3f}, burst={self._burst})"
