"""The circuit breaker, checked against a brute-force reference model and by example."""

from __future__ import annotations

import math
from collections.abc import Callable

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
)
from patchwire.breaker import BreakerPermit, BreakerState, CircuitBreaker, WindowCounts
from patchwire.clock import VirtualClock

CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN


@attrs.define
class RefPermit:
    generation: int
    probe: bool
    settled: bool = False


@attrs.define
class ReferenceBreaker:
    """The breaker's rules written the obvious way: every outcome kept with its timestamp,
    the window recomputed from scratch on every failure."""

    clock: VirtualClock
    failure_ratio: float
    min_calls: int
    window: float
    open_for: float
    half_open_probes: int
    state: BreakerState = CLOSED
    generation: int = 0
    opened_at: float = 0.0
    probes: int = 0
    outcomes: list[tuple[float, bool]] = attrs.Factory(list)
    transitions: list[tuple[BreakerState, BreakerState]] = attrs.Factory(list)

    def current(self) -> BreakerState:
        if self.state is OPEN and self.clock.now() >= self.opened_at + self.open_for:
            self.move(HALF_OPEN)
        return self.state

    def move(self, new: BreakerState) -> None:
        self.transitions.append((self.state, new))
        self.state = new
        self.generation += 1
        self.probes = 0
        if new is CLOSED:
            self.outcomes = []
        if new is OPEN:
            self.opened_at = self.clock.now()

    def acquire(self) -> RefPermit | None:
        state = self.current()
        if state is CLOSED:
            return RefPermit(self.generation, probe=False)
        if state is HALF_OPEN and self.probes < self.half_open_probes:
            self.probes += 1
            return RefPermit(self.generation, probe=True)
        return None

    def retry_after(self) -> float:
        if self.current() is OPEN:
            return self.opened_at + self.open_for - self.clock.now()
        return 0.0

    def settle(self, permit: RefPermit, outcome: str) -> None:
        if permit.settled:
            return
        permit.settled = True
        if permit.generation != self.generation:
            return
        if self.state is HALF_OPEN:
            if outcome == "success":
                self.move(CLOSED)
            elif outcome == "failure":
                self.move(OPEN)
            else:
                self.probes -= 1
            return
        if outcome not in ("success", "failure"):
            return
        now = self.clock.now()
        self.outcomes.append((now, outcome == "failure"))
        if outcome == "failure":
            seconds = math.ceil(self.window)
            recent = [
                failed
                for when, failed in self.outcomes
                if math.floor(when) > math.floor(now) - seconds
            ]
            if len(recent) >= self.min_calls and sum(recent) >= self.failure_ratio * len(recent):
                self.move(OPEN)


Pair = tuple[BreakerPermit, RefPermit]
OUTCOMES = st.sampled_from(["success", "failure", "failure", "ignore", "release"])


class BreakerMachine(RuleBasedStateMachine):
    """Drives the breaker and the reference with the same operations; they must agree.

    Invariants: same state, same transitions (in order), same rejections, same wait until
    a probe; concurrent half-open probes never exceed half_open_probes; outcomes of
    permits from an earlier generation change nothing (the reference ignores them, so
    any effect would show as a disagreement).
    """

    permits = Bundle("permits")

    def __init__(self) -> None:
        super().__init__()
        self.clock = VirtualClock(autojump=False)
        self.seen: list[tuple[BreakerState, BreakerState]] = []

    @initialize(
        failure_ratio=st.sampled_from([0.25, 0.5, 0.75, 1.0]),
        min_calls=st.integers(min_value=1, max_value=5),
        window=st.sampled_from([0.5, 1.0, 2.5, 5.0, 10.0]),
        open_for=st.sampled_from([0.0, 1.0, 3.5, 10.0]),
        half_open_probes=st.integers(min_value=1, max_value=3),
    )
    def build(
        self,
        failure_ratio: float,
        min_calls: int,
        window: float,
        open_for: float,
        half_open_probes: int,
    ) -> None:
        self.breaker = CircuitBreaker(
            self.clock,
            failure_ratio=failure_ratio,
            min_calls=min_calls,
            window=window,
            open_for=open_for,
            half_open_probes=half_open_probes,
            on_transition=lambda old, new: self.seen.append((old, new)),
        )
        self.reference = ReferenceBreaker(
            self.clock, failure_ratio, min_calls, window, open_for, half_open_probes
        )

    @rule(target=permits)
    def acquire(self) -> Pair | object:
        permit = self.breaker.try_acquire()
        expected = self.reference.acquire()
        assert (permit is None) == (expected is None)
        if permit is None or expected is None:
            return multiple()
        assert permit.probe == expected.probe
        return permit, expected

    @rule(pair=permits, outcome=OUTCOMES)
    def settle(self, pair: Pair, outcome: str) -> None:
        permit, expected = pair
        settle: Callable[[], None] = getattr(permit, outcome)
        settle()
        self.reference.settle(expected, outcome)

    @rule(outcome=OUTCOMES)
    def call(self, outcome: str) -> None:
        """A call that finishes before anything else happens: the common case, and the
        quickest way through every transition."""
        pair = self.acquire()
        if isinstance(pair, tuple):
            self.settle(pair, outcome)

    @rule(dt=st.sampled_from([0.0, 0.3, 0.5, 1.0, 2.0, 3.5, 10.0]) | st.floats(0.0, 12.0))
    def advance(self, dt: float) -> None:
        self.clock.advance(dt)

    @invariant()
    def agrees_with_reference(self) -> None:
        if not hasattr(self, "breaker"):
            return
        assert self.breaker.state == self.reference.current()
        assert self.seen == self.reference.transitions
        assert self.breaker.retry_after() == pytest.approx(self.reference.retry_after())
        assert self.breaker.probes_in_flight == self.reference.probes

    @invariant()
    def probes_bounded(self) -> None:
        if hasattr(self, "breaker"):
            assert 0 <= self.breaker.probes_in_flight <= self.reference.half_open_probes


BreakerMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=60, deadline=None)
TestBreakerAgainstReference = BreakerMachine.TestCase


def make(
    clock: VirtualClock, log: list[tuple[BreakerState, BreakerState]] | None = None, **kw: float
) -> CircuitBreaker:
    defaults: dict[str, float] = {"min_calls": 4, "failure_ratio": 0.5, "window": 10.0}
    defaults.update(kw)
    return CircuitBreaker(
        clock,
        failure_ratio=defaults["failure_ratio"],
        min_calls=int(defaults["min_calls"]),
        window=defaults["window"],
        open_for=defaults.get("open_for", 15.0),
        half_open_probes=int(defaults.get("half_open_probes", 1)),
        on_transition=None if log is None else (lambda old, new: log.append((old, new))),
    )


def fail(breaker: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        permit = breaker.try_acquire()
        assert permit is not None
        permit.failure()


def open_then_half_open(breaker: CircuitBreaker, clock: VirtualClock) -> None:
    fail(breaker, 4)
    assert breaker.state is OPEN
    clock.advance(15.0)
    assert breaker.state is HALF_OPEN


def test_opens_only_once_min_calls_and_the_failure_ratio_are_both_reached() -> None:
    """Invariant: fewer than min_calls outcomes never open; at min_calls with ratio >= threshold it opens."""
    clock = VirtualClock(autojump=False)
    log: list[tuple[BreakerState, BreakerState]] = []
    breaker = make(clock, log)
    fail(breaker, 3)
    assert breaker.state is CLOSED
    permit = breaker.try_acquire()
    assert permit is not None
    permit.success()
    assert breaker.state is CLOSED  # 3 failures of 4 calls, but a success never opens
    fail(breaker, 1)
    assert breaker.state is OPEN
    assert log == [(CLOSED, OPEN)]


def test_outcomes_older_than_the_window_are_forgotten() -> None:
    clock = VirtualClock(autojump=False)
    breaker = make(clock)
    fail(breaker, 3)
    clock.advance(10.0)
    fail(breaker, 3)
    assert breaker.state is CLOSED


def test_ignored_outcomes_do_not_count_towards_min_calls() -> None:
    clock = VirtualClock(autojump=False)
    breaker = make(clock)
    for _ in range(10):
        permit = breaker.try_acquire()
        assert permit is not None
        permit.ignore()
    fail(breaker, 3)
    assert breaker.state is CLOSED


def test_open_rejects_and_says_how_long_until_a_probe() -> None:
    """Invariant: open rejects at once; retry_after counts down to the half-open moment."""
    clock = VirtualClock(autojump=False)
    breaker = make(clock)
    fail(breaker, 4)
    assert breaker.try_acquire() is None
    assert breaker.retry_after() == 15.0
    clock.advance(10.0)
    assert breaker.retry_after() == 5.0
    assert breaker.try_acquire() is None
    clock.advance(5.0)
    assert breaker.retry_after() == 0.0
    assert breaker.state is HALF_OPEN


def test_half_open_admits_at_most_the_probe_limit_and_a_success_closes() -> None:
    """Invariant: concurrent probes <= half_open_probes; a probe success closes with a clean window."""
    clock = VirtualClock(autojump=False)
    log: list[tuple[BreakerState, BreakerState]] = []
    breaker = make(clock, log, half_open_probes=2)
    open_then_half_open(breaker, clock)
    first, second = breaker.try_acquire(), breaker.try_acquire()
    assert first is not None and second is not None and first.probe
    assert breaker.try_acquire() is None
    first.success()
    assert breaker.state is CLOSED
    fail(breaker, 3)  # the window was cleared: three failures are below min_calls again
    assert breaker.state is CLOSED
    assert log == [(CLOSED, OPEN), (OPEN, HALF_OPEN), (HALF_OPEN, CLOSED)]


def test_a_probe_failure_reopens_for_a_fresh_open_for() -> None:
    clock = VirtualClock(autojump=False)
    breaker = make(clock)
    open_then_half_open(breaker, clock)
    clock.advance(3.0)
    probe = breaker.try_acquire()
    assert probe is not None
    probe.failure()
    assert breaker.state is OPEN
    assert breaker.retry_after() == 15.0


@pytest.mark.parametrize("settle", ["release", "ignore"])
def test_released_probe_permits_let_the_breaker_probe_again(settle: str) -> None:
    """Invariant: a cancelled (released) or ignored probe frees its slot and changes no state."""
    clock = VirtualClock(autojump=False)
    breaker = make(clock)
    open_then_half_open(breaker, clock)
    probe = breaker.try_acquire()
    assert probe is not None
    assert breaker.try_acquire() is None
    getattr(probe, settle)()
    assert breaker.state is HALF_OPEN
    assert breaker.probes_in_flight == 0
    again = breaker.try_acquire()
    assert again is not None
    again.success()
    assert breaker.state is CLOSED


def test_late_outcomes_from_an_earlier_generation_change_nothing() -> None:
    """Invariant: a permit acquired before the last transition never changes the state."""
    clock = VirtualClock(autojump=False)
    log: list[tuple[BreakerState, BreakerState]] = []
    breaker = make(clock, log)
    slow_success, slow_failure = breaker.try_acquire(), breaker.try_acquire()
    assert slow_success is not None and slow_failure is not None
    open_then_half_open(breaker, clock)
    slow_success.success()  # would close a half-open breaker if it counted
    assert breaker.state is HALF_OPEN
    probe = breaker.try_acquire()
    assert probe is not None
    probe.success()
    slow_failure.failure()
    assert breaker.state is CLOSED
    probe.failure()  # already settled, and from an earlier generation
    assert breaker.state is CLOSED
    assert log == [(CLOSED, OPEN), (OPEN, HALF_OPEN), (HALF_OPEN, CLOSED)]


def test_a_late_probe_does_not_take_a_slot_in_the_next_half_open_period() -> None:
    clock = VirtualClock(autojump=False)
    breaker = make(clock, half_open_probes=1)
    open_then_half_open(breaker, clock)
    first = breaker.try_acquire()
    assert first is not None
    first.failure()
    clock.advance(15.0)
    assert breaker.try_acquire() is not None
    first.release()  # late and already settled: must not free the new probe's slot
    assert breaker.try_acquire() is None


def test_a_permit_settles_once() -> None:
    """Invariant: a second settle is a no-op, so an outcome never counts twice."""
    clock = VirtualClock(autojump=False)
    breaker = make(clock, min_calls=2, failure_ratio=1.0)
    permit = breaker.try_acquire()
    assert permit is not None
    permit.failure()
    permit.failure()
    assert breaker.state is CLOSED
    fail(breaker, 1)
    assert breaker.state is OPEN


def test_window_counts_keep_a_fixed_ring_however_long_they_run() -> None:
    """Invariant: memory is ceil(window) buckets; totals cover only the last ceil(window) seconds."""
    counts = WindowCounts(3.0)
    for second in range(1000):
        counts.add(second + 0.5, first=1, second=second % 2)
    assert len(counts._seconds) == 3
    assert counts.totals(999.9) == (3, 2)
    assert counts.totals(1001.0) == (1, 1)
    assert counts.totals(5000.0) == (0, 0)
    counts.clear()
    assert counts.totals(999.9) == (0, 0)


_window_ops = st.lists(
    st.tuples(
        st.sampled_from(["add", "totals", "clear"]),
        st.floats(0.0, 12.0),
        st.integers(0, 3),
        st.integers(0, 3),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(window=st.sampled_from([1.0, 2.5, 4.0]), ops=_window_ops)
def test_window_totals_kept_between_calls_match_a_sum_of_every_event_in_the_window(
    window: float, ops: list[tuple[str, float, int, int]]
) -> None:
    """Invariant: totals asked again within a second (with adds in it, in other seconds,
    earlier instants, clears) are the sums of the events the window covers at that instant."""
    counts = WindowCounts(window)
    size = math.ceil(window)
    events: list[tuple[int, int, int]] = []  # (second, first, second count)
    for op, now, first, second in ops:
        if op == "add":
            counts.add(now, first=first, second=second)
            slot_second = math.floor(now)
            # A ring slot reused for a later second forgets the earlier one's events.
            events = [e for e in events if e[0] % size != slot_second % size or e[0] == slot_second]
            events.append((slot_second, first, second))
        elif op == "clear":
            counts.clear()
            events = []
        else:
            # Every second the ring still holds after the window's start (a later one
            # included, as when an instant read before a later add is asked about).
            inside = [e for e in events if e[0] > math.floor(now) - size]
            assert counts.totals(now) == (sum(e[1] for e in inside), sum(e[2] for e in inside))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"failure_ratio": 0.0},
        {"failure_ratio": 1.5},
        {"min_calls": 0},
        {"window": 0.0},
        {"open_for": -1.0},
        {"half_open_probes": 0},
    ],
)
def test_invalid_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(VirtualClock(), **kwargs)  # type: ignore[arg-type]
