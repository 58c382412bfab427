"""Per-principal budgets: requests, tokens and cost per fixed window, fail fast when spent.

Invariant (``tests/principals/test_budget_props.py``): within any one window of a
budget, the calls admitted number at most its ``requests_per_WINDOW``, and a call is
admitted for tokens or cost only while ``used + estimate <= limit`` (cost is estimated
as 0, so a cost budget admits while anything is left, and reported cost is added after).

Windows are fixed and aligned to the epoch (minute, hour, UTC day) or the calendar
month, on the hub's wall time, so every process sharing a counter store agrees on when
a window resets. Each admission is one atomic ``take`` over every window of every
budget the principal falls under: all are charged, or none is.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable, Sequence
from typing import Protocol

import attrs

from patchwire.errors import QuotaExhaustedError
from patchwire.principals.principal import Principal
from patchwire.principals.settings import WINDOWS, BudgetLimit, BudgetSpec

__all__ = ["Admission", "BudgetCounters", "Budgets", "Charge", "MemoryCounters", "window_bounds"]


@attrs.frozen
class Charge:
    """One counter of one window: where it lives, its limit, and how much to take."""

    key: str
    limit: float
    amount: float
    ttl: float  # seconds the counter must outlive its window's start


class BudgetCounters(Protocol):
    """Where budget counters live: ``memory`` in core, Redis in contrib/patchwire-redis."""

    async def take(self, charges: Sequence[Charge]) -> tuple[int, float] | None:
        """Atomically: if every counter has ``used + amount <= limit`` and ``used < limit``,
        add every amount and return None; else change nothing and return the index of the
        first refusing charge with its current use."""
        ...

    async def add(self, charges: Sequence[Charge]) -> None:
        """Add each (signed) amount unconditionally: reconciling with reported usage."""
        ...

    async def used(self, key: str) -> float: ...


class MemoryCounters:
    """Counters in a dict, for one process; no awaits inside, so each call is atomic."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now
        self._values: dict[str, tuple[float, float]] = {}  # key -> (value, expires)

    def _get(self, key: str) -> float:
        held = self._values.get(key)
        if held is None or held[1] <= self._now():
            self._values.pop(key, None)
            return 0.0
        return held[0]

    async def take(self, charges: Sequence[Charge]) -> tuple[int, float] | None:
        for index, charge in enumerate(charges):
            used = self._get(charge.key)
            if used >= charge.limit or used + charge.amount > charge.limit:
                return index, used
        await self.add(charges)
        return None

    async def add(self, charges: Sequence[Charge]) -> None:
        now = self._now()
        for charge in charges:
            value = self._get(charge.key) + charge.amount
            held = self._values.get(charge.key)
            expires = held[1] if held is not None else now + charge.ttl
            self._values[charge.key] = (value, expires)
        if len(self._values) > 4096:
            for key in [k for k, (_, e) in self._values.items() if e <= now]:
                del self._values[key]

    async def used(self, key: str) -> float:
        return self._get(key)

    async def aclose(self) -> None:
        return None


def window_bounds(window: str, now: float) -> tuple[float, float]:
    """The start and end (wall seconds) of the ``window`` that contains ``now``."""
    length = WINDOWS[window]
    if length:
        start = (now // length) * length
        return start, start + length
    day = dt.datetime.fromtimestamp(now, dt.UTC)
    start_day = dt.datetime(day.year, day.month, 1, tzinfo=dt.UTC)
    days = calendar.monthrange(day.year, day.month)[1]
    start = start_day.timestamp()
    return start, start + days * 86400.0


@attrs.frozen
class Admission:
    """What a call took; settled once with what it used."""

    principal: Principal
    tokens: tuple[Charge, ...]  # the token charges (estimate taken)
    cost: tuple[Charge, ...]  # the cost charges (nothing taken yet)
    estimate: int


class Budgets:
    """Admits calls against the budgets a principal falls under, and settles their use."""

    def __init__(
        self,
        specs: Sequence[BudgetSpec],
        counters: BudgetCounters,
        now: Callable[[], float],
        *,
        prefix: str = "budget",
    ) -> None:
        self.specs = tuple(specs)
        self.counters = counters
        self._now = now
        self._prefix = prefix

    def applies(self, principal: Principal | None) -> bool:
        return principal is not None and any(
            s.matches(principal.id, principal.tags) for s in self.specs
        )

    def _charges(
        self, principal: Principal, now: float, estimate: int
    ) -> list[tuple[BudgetSpec, BudgetLimit, Charge, float]]:
        out = []
        for spec in self.specs:
            if not spec.matches(principal.id, principal.tags):
                continue
            subject = spec.subject(principal.id)
            for limit in spec.limits:
                start, end = window_bounds(limit.window, now)
                amount = {"requests": 1.0, "tokens": float(estimate), "cost": 0.0}[limit.measure]
                key = f"{self._prefix}:{spec.name}:{subject}:{limit.key}:{start:.0f}"
                out.append((spec, limit, Charge(key, limit.limit, amount, end - start + 60), end))
        return out

    async def admit(self, principal: Principal, estimate: int) -> Admission:
        """Take this call from every matching budget, or raise ``QuotaExhaustedError``
        naming the budget, what is spent and when it resets, having taken nothing."""
        now = self._now()
        planned = self._charges(principal, now, estimate)
        refused = await self.counters.take([c for _, _, c, _ in planned])
        if refused is not None:
            index, used = refused
            spec, limit, _, end = planned[index]
            wait = max(0.0, end - now)
            whose = (
                f"principal '{principal.id}'"
                if not spec.shared
                else f"{spec.subject(principal.id)}"
            )
            shown = f"{used:.4g}" if limit.measure == "cost" else f"{used:.0f}"
            raise QuotaExhaustedError(
                f"budget '{spec.name}' for {whose} is spent: {shown} of {limit.limit:g}"
                f" {limit.measure} this {limit.window}; it resets in {wait:.0f} s",
                retry_after=wait,
                code=f"budget:{spec.name}:{limit.key}",
            )
        return Admission(
            principal,
            tuple(c for _, lim, c, _ in planned if lim.measure == "tokens"),
            tuple(c for _, lim, c, _ in planned if lim.measure == "cost"),
            estimate,
        )

    async def settle(self, admission: Admission, tokens: int | None, cost: float | None) -> None:
        """Reconcile with what the call reported: actual tokens replace the estimate (None:
        the estimate stands... unless the call failed, see ``refund``), cost is added."""
        charges = []
        if tokens is not None:
            charges += [
                attrs.evolve(c, amount=tokens - admission.estimate) for c in admission.tokens
            ]
        if cost:
            charges += [attrs.evolve(c, amount=float(cost)) for c in admission.cost]
        charges = [c for c in charges if c.amount]
        if charges:
            await self.counters.add(charges)

    async def refund(self, admission: Admission) -> None:
        """A call that failed before using anything gives back its token estimate; the
        request itself still counts."""
        await self.settle(admission, 0, None)
