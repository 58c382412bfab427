"""The attempt loop takes a breaker's permit from ``try_acquire`` at once and calls the
stage ``breaker_permit`` only when that gives none (issue 19: the stage's frame on every
attempt). Invariant: for any history of outcomes and clock moves, that answers as
``breaker_permit`` alone does on a breaker with the same history (a permit of the same
generation and kind, or the same CircuitOpenError), and leaves the breaker in the same
state, transitions included. Through the loop itself, an open circuit still refuses at
once (tests/core/test_pipeline_props.py::test_breaker_opens_and_rejects_at_once fails
when the loop skips breaker_permit after try_acquire gives none)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.breaker import BreakerPermit, BreakerState, CircuitBreaker
from patchwire.clock import VirtualClock
from patchwire.errors import CircuitOpenError
from patchwire.pipeline.stages import breaker_permit

steps = st.lists(
    st.one_of(
        st.tuples(st.just("call"), st.sampled_from(["success", "failure", "ignore", "hold"])),
        st.tuples(st.just("wait"), st.sampled_from([0.0, 0.5, 3.0, 11.0])),
    ),
    max_size=30,
)


class _Target:
    label = "c:m"
    model = "m"

    class runtime:
        name = "c"


def _breaker(clock: VirtualClock, moves: list[tuple[BreakerState, BreakerState]]) -> CircuitBreaker:
    return CircuitBreaker(
        clock,
        failure_ratio=0.5,
        min_calls=2,
        window=5.0,
        open_for=10.0,
        half_open_probes=2,
        on_transition=lambda old, new: moves.append((old, new)),
    )


def _admit(breaker: CircuitBreaker, fast: bool) -> BreakerPermit | CircuitOpenError:
    target: Any = _Target()
    try:
        if fast:
            permit = breaker.try_acquire()
            return permit if permit is not None else breaker_permit(breaker, target, 0)  # type: ignore[return-value]
        return breaker_permit(breaker, target, 0)  # type: ignore[return-value]
    except CircuitOpenError as exc:
        return exc


def _replay(history: list[tuple[str, Any]], fast: bool) -> list[Any]:
    clock = VirtualClock()
    moves: list[tuple[BreakerState, BreakerState]] = []
    breaker = _breaker(clock, moves)
    held: list[BreakerPermit] = []
    seen: list[Any] = []
    for kind, what in history:
        if kind == "wait":
            clock.advance(what)
            continue
        got = _admit(breaker, fast)
        if isinstance(got, CircuitOpenError):
            seen.append(("open", got.message, got.retry_after, got.fallback, got.attempts))
        else:
            seen.append(("permit", got._generation, got.probe))
            if what == "hold":
                held.append(got)
            else:
                getattr(got, what)()
        seen.append((breaker._state, breaker._generation, breaker.probes_in_flight))
    for permit in held:
        permit.release()
    seen.append((breaker._state, breaker._generation, breaker.probes_in_flight, tuple(moves)))
    return seen


@settings(max_examples=300, deadline=None)
@given(history=steps)
def test_the_fast_admission_answers_as_the_stage(history: list[tuple[str, Any]]) -> None:
    assert _replay(history, fast=True) == _replay(history, fast=False)


def test_the_histories_reach_every_state() -> None:
    """The strategy's histories open the circuit and probe it (so the test above sees both)."""
    history: list[tuple[str, Any]] = [("call", "failure"), ("call", "failure"), ("call", "success")]
    history += [("wait", 11.0), ("call", "hold"), ("call", "hold"), ("call", "hold")]
    seen = _replay(history, fast=True)
    assert ("open", "circuit open for c:m: recent calls failed too often", 10.0, True, 0) in seen
    assert [entry for entry in seen if entry[0] == "permit" and entry[2]]  # half-open probes
    assert seen == _replay(history, fast=False)
