"""Drive a Limiter with a scripted workload on a virtual clock and record what happened.

Every request ends in exactly one outcome; the trace also keeps every charge made to the
token windows (the estimate at admission, the reconciled difference later) in the order
the limiter saw them, so tests can replay them against a reference bucket.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

import attrs
from hypothesis import strategies as st
from patchwire.clock import VirtualClock
from patchwire.limiter import Limiter, LimiterRefused

T = TypeVar("T")

ADMITTED = "admitted"
REFUSED = "refused"
EXPIRED = "expired"
CANCELLED = "cancelled"


@attrs.frozen
class Request:
    arrival: float
    tokens: int = 0
    priority: int = 0
    patience: float | None = None  # deadline = arrival + patience
    hold: float = 0.0  # how long the permit is held before reconcile and release
    actual: int | None = None  # reconciled usage, if any
    cancel_after: float | None = None  # the caller gives up this long after arriving

    @property
    def deadline(self) -> float | None:
        return None if self.patience is None else self.arrival + self.patience


@attrs.frozen
class Outcome:
    kind: str
    time: float
    wait: float | None = None


@attrs.define
class Trace:
    outcomes: dict[int, list[Outcome]] = attrs.Factory(dict)
    # (time, request index) in admission order
    admissions: list[tuple[float, int]] = attrs.Factory(list)
    # (time, token amount, is_admission) in the order the limiter was charged
    charges: list[tuple[float, int, bool]] = attrs.Factory(list)
    # every window's available amount right after each charge, when levels are lowest
    levels: list[dict[str, float]] = attrs.Factory(list)

    def kinds(self) -> dict[int, str]:
        return {i: out[0].kind for i, out in self.outcomes.items()}


async def drive(limiter: Limiter, clock: VirtualClock, requests: Sequence[Request]) -> Trace:
    trace = Trace()

    def record(index: int, outcome: Outcome) -> None:
        trace.outcomes.setdefault(index, []).append(outcome)

    async def one(index: int, request: Request) -> None:
        await clock.sleep(request.arrival - clock.now())
        if request.cancel_after is not None:
            task = asyncio.current_task()
            assert task is not None
            clock.call_at(request.arrival + request.cancel_after, lambda: _cancel(task))
        try:
            permit = await limiter.acquire(
                tokens=request.tokens, priority=request.priority, deadline=request.deadline
            )
        except LimiterRefused as refusal:
            now = clock.now()
            late = request.deadline is not None and now >= request.deadline
            record(index, Outcome(EXPIRED if late else REFUSED, now, refusal.wait))
            return
        except asyncio.CancelledError:
            record(index, Outcome(CANCELLED, clock.now()))
            raise
        now = clock.now()
        record(index, Outcome(ADMITTED, now))
        trace.admissions.append((now, index))
        trace.charges.append((now, request.tokens, True))
        trace.levels.append(available(limiter))
        try:
            if request.hold:
                await clock.sleep(request.hold)
            if request.actual is not None:
                trace.charges.append((clock.now(), request.actual - request.tokens, False))
                await permit.reconcile(request.actual)
                trace.levels.append(available(limiter))
        finally:
            permit.release()

    tasks = [asyncio.create_task(one(i, r)) for i, r in enumerate(requests)]
    await asyncio.gather(*tasks, return_exceptions=True)
    return trace


def available(limiter: Limiter) -> dict[str, float]:
    return {name: w.available for name, w in limiter.snapshot().windows.items()}


def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()


def run(scenario: Coroutine[Any, Any, T]) -> T:
    """Run an async scenario on a fresh loop (hypothesis examples are plain functions)."""
    return asyncio.run(scenario)


times = st.floats(min_value=0.0, max_value=20.0, allow_nan=False).map(lambda t: round(t, 3))


def worst_interval(
    charges: Sequence[tuple[float, float, bool]], capacity: float, rate: float
) -> float:
    """max over intervals [charge i, charge j] with j an admission of
    (sum of charges i..j) - (capacity + rate * (t_j - t_i)); <= 0 means the bound held."""
    worst = -float("inf")
    for i in range(len(charges)):
        total = 0.0
        for j in range(i, len(charges)):
            total += charges[j][1]
            if charges[j][2]:
                worst = max(worst, total - (capacity + rate * (charges[j][0] - charges[i][0])))
    return worst


def replay(
    charges: Sequence[tuple[float, float]], capacity: float, rate: float, until: float
) -> float:
    """The level at ``until`` of a reference bucket, full at time 0, charged ``charges``."""
    level, stamp = capacity, 0.0
    for when, amount in charges:
        level = min(capacity, level + rate * (when - stamp)) - amount
        level = min(level, capacity)
        stamp = when
    return min(capacity, level + rate * (until - stamp))
