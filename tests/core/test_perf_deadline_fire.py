"""The monotonic clock's deadline scopes wait in one list per loop, in the order they were
opened, behind one timer (issue 19: an append per scope, not a heap push). A firing must
still expire the due scopes in deadline order, equal deadlines in the order they were
set, keep the open ones that are not due, and re-arm for the earliest of them; dead
entries must not pile up."""

from __future__ import annotations

import asyncio
import time

import pytest
from patchwire import clock
from patchwire.clock import MonotonicClock, deadline_scope

CLOCK = MonotonicClock()


class _Instant:
    """``time`` as patchwire.clock reads it, set by the test. It starts a million seconds
    ahead of the real clock, so the hub's loop timer (armed on the real clock) never fires
    during a test: each firing is the test calling the hub's ``_fire``, at an instant it
    chose, with no sleep on the real clock."""

    def __init__(self) -> None:
        self.now = time.monotonic() + 1e6

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def instant(monkeypatch: pytest.MonkeyPatch) -> _Instant:
    fake = _Instant()
    monkeypatch.setattr(clock, "time", fake)
    return fake


async def _hang(when: float, name: str, ended: list[str]) -> None:
    with pytest.raises(TimeoutError), deadline_scope(CLOCK, when):
        await asyncio.Event().wait()  # only the deadline ends it
    ended.append(name)


def _hub() -> clock._Deadlines:
    hub = clock._shared
    assert hub is not None
    return hub


async def test_due_scopes_expire_in_deadline_order_ties_in_the_order_set(
    instant: _Instant,
) -> None:
    ended: list[str] = []
    at = instant.now + 0.05
    later = at + 0.01
    # Opened out of deadline order; "b" and "d" share a deadline, "b" set first.
    tasks = [
        asyncio.create_task(_hang(later, "c", ended)),
        asyncio.create_task(_hang(at, "b", ended)),
        asyncio.create_task(_hang(at - 0.001, "a", ended)),
        asyncio.create_task(_hang(at, "d", ended)),
    ]
    await asyncio.sleep(0)  # every scope is open before any is due
    instant.now = later + 1
    _hub()._fire()  # one late firing finds them all due at once
    await asyncio.gather(*tasks)
    assert ended == ["a", "b", "d", "c"]


async def test_a_firing_keeps_the_open_scopes_not_due_and_waits_for_the_earliest(
    instant: _Instant,
) -> None:
    ended: list[str] = []
    now = instant.now
    soon = asyncio.create_task(_hang(now + 0.03, "soon", ended))
    late = asyncio.create_task(_hang(now + 0.2, "late", ended))
    middle = asyncio.create_task(_hang(now + 0.1, "middle", ended))
    await asyncio.sleep(0)
    hub = _hub()
    assert hub.armed == now + 0.03
    instant.now = now + 0.03
    hub._fire()
    await soon
    assert [scope._when for scope in hub.scopes] == [now + 0.2, now + 0.1]  # order kept
    assert hub.open == 2 and hub.armed == now + 0.1
    instant.now = now + 0.1
    hub._fire()
    await middle
    assert ended == ["soon", "middle"] and hub.armed == now + 0.2
    instant.now = now + 0.2
    hub._fire()
    await late
    assert ended == ["soon", "middle", "late"]
    assert hub.scopes == [] and hub.open == 0


async def test_scopes_left_in_time_do_not_pile_up_while_one_stays_open() -> None:
    held = asyncio.Event()

    async def holder() -> None:
        with deadline_scope(CLOCK, time.monotonic() + 60):
            await held.wait()

    task = asyncio.create_task(holder())
    await asyncio.sleep(0)
    for _ in range(1000):
        with deadline_scope(CLOCK, time.monotonic() + 60):
            pass
    hub = _hub()
    assert hub.open == 1
    assert len(hub.scopes) <= 2 * hub.open + 65  # pruned, not 1001 entries
    held.set()
    await task
    assert hub.scopes == [] and hub.open == 0


def test_a_scope_from_deadline_scope_is_the_built_one() -> None:
    """deadline_scope stores a shared scope's slots itself: the same as its __init__."""
    made = deadline_scope(CLOCK, 123.0)
    built = clock._SharedScope(123.0)
    assert type(made) is clock._SharedScope
    set_by_init = ("_when", "_state")
    assert [getattr(made, name) for name in set_by_init] == [
        getattr(built, name) for name in set_by_init
    ]
    for name in clock._SharedScope.__slots__:
        assert hasattr(made, name) == hasattr(built, name), name  # the rest come on entering
