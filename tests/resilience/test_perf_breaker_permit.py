"""A closed breaker's permit is built by storing its slots, and its success counted
without the breaker's _on_success call (issue 19: every attempt takes a permit and every
reply settles one). The permit must be the one BreakerPermit(...) builds, and a success
must count exactly as _on_success does, in every state and generation."""

from __future__ import annotations

import pytest
from patchwire.breaker import BreakerPermit, BreakerState, CircuitBreaker
from patchwire.clock import VirtualClock


def _slots(permit: BreakerPermit) -> dict[str, object]:
    return {name: getattr(permit, name) for name in BreakerPermit.__slots__}


def test_a_closed_breakers_permit_is_the_built_one() -> None:
    breaker = CircuitBreaker(VirtualClock())
    permit = breaker.try_acquire()
    assert type(permit) is BreakerPermit
    assert _slots(permit) == _slots(BreakerPermit(breaker, breaker._generation, False))


def _failing(clock: VirtualClock) -> CircuitBreaker:
    breaker = CircuitBreaker(clock, min_calls=2, failure_ratio=0.5, open_for=5.0, window=10.0)
    for _ in range(2):
        permit = breaker.try_acquire()
        assert permit is not None
        permit.failure()
    assert breaker.state is BreakerState.OPEN
    return breaker


@pytest.mark.parametrize("stale", [False, True])
def test_a_success_counts_as_on_success_does(stale: bool) -> None:
    clock = VirtualClock(100.0)
    breaker = CircuitBreaker(clock)
    permits = [breaker.try_acquire() for _ in range(3)]
    if stale:
        breaker._transition(BreakerState.CLOSED)  # a new generation: old permits count nothing
    for permit in permits:
        assert permit is not None
        permit.success()
        permit.success()  # a second settle is a no-op
    assert breaker._window.totals(clock.now()) == ((0, 0) if stale else (3, 0))


def test_a_half_open_probes_success_closes_the_circuit() -> None:
    clock = VirtualClock(100.0)
    breaker = _failing(clock)
    clock.advance(5.0)
    probe = breaker.try_acquire()
    assert probe is not None and probe.probe
    probe.success()
    assert breaker.state is BreakerState.CLOSED
    assert breaker._window.totals(clock.now()) == (0, 0)  # a closing clears the window
