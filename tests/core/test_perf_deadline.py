"""Deadline scopes on the monotonic clock share one loop timer per event loop (issue 19):
each scope must still end at its own deadline as a ``TimeoutError``, leave outside
cancellations alone, and cost no timer when it is left in time."""

from __future__ import annotations

import asyncio
import time

import pytest
from patchwire.clock import MonotonicClock, deadline_scope

CLOCK = MonotonicClock()


async def _hang(seconds: float) -> float:
    """How long a hung await ran before its scope's deadline ended it."""
    start = time.monotonic()
    with pytest.raises(TimeoutError), deadline_scope(CLOCK, start + seconds):
        await asyncio.sleep(30)
    return time.monotonic() - start


async def _quick(seconds: float) -> str:
    with deadline_scope(CLOCK, time.monotonic() + seconds):
        await asyncio.sleep(0)
    return "done"


async def test_each_hung_await_ends_at_its_own_deadline() -> None:
    # Set out of deadline order, with scopes left early in between.
    took = await asyncio.gather(
        _hang(0.3), _hang(0.1), _quick(0.05), _hang(0.2), _quick(10.0), _hang(0.1)
    )
    for got, want in zip(took, (0.3, 0.1, None, 0.2, None, 0.1), strict=True):
        if want is None:
            assert got == "done"
        else:
            assert want - 0.01 <= got < want + 0.15


async def test_an_earlier_deadline_after_a_later_one_still_fires_in_time() -> None:
    assert await _quick(60.0) == "done"  # leaves the loop timer armed 60 s ahead
    took = await _hang(0.05)
    assert 0.04 <= took < 0.2


async def test_a_scope_left_in_time_arms_no_timer_of_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await _quick(60.0)  # arms the loop's one timer
    loop = asyncio.get_running_loop()
    armed: list[float] = []
    call_at = loop.call_at

    def counting(when: float, *args: object, **kwargs: object) -> asyncio.TimerHandle:
        armed.append(when)
        return call_at(when, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(loop, "call_at", counting)
    for _ in range(500):
        await _quick(60.0)
    assert armed == []


async def test_a_cancellation_from_elsewhere_propagates_unchanged() -> None:
    task = asyncio.create_task(_quick_then_hang())
    await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The scope it left is gone: a later deadline is not disturbed by it.
    assert await _quick(0.05) == "done"


async def _quick_then_hang() -> None:
    with deadline_scope(CLOCK, time.monotonic() + 5.0):
        await asyncio.sleep(30)


def test_scopes_work_on_successive_event_loops() -> None:
    for _ in range(2):
        took = asyncio.run(_hang(0.05))
        assert 0.04 <= took < 0.2


async def test_a_passed_deadline_fails_at_once() -> None:
    with pytest.raises(TimeoutError), deadline_scope(CLOCK, time.monotonic() - 1.0):
        pass
