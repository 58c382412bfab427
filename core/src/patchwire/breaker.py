"""A circuit breaker per connector and model: stop calling what is down, probe to recover.

Closed, it counts outcomes over a sliding window of whole-second buckets and opens when
enough calls failed. Open, it rejects at once for ``open_for`` seconds. Half-open, it
admits a bounded number of probes: one success closes it, one failure reopens it.

Every transition starts a new *generation*. A permit remembers the generation it was
issued in, and its outcome counts only if no transition happened since: a slow call
started before the circuit opened cannot close it, and a probe that outlived its
half-open period cannot reopen a circuit that already recovered.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from math import floor

from patchwire.clock import Clock

__all__ = ["BreakerPermit", "BreakerState", "CircuitBreaker", "WindowCounts"]


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class WindowCounts:
    """Two counters summed over the last ``ceil(window)`` whole seconds of the clock.

    The window is the current second plus the ``ceil(window) - 1`` before it, so memory is
    a fixed ring of buckets however many events arrive. An instant ``t`` falls in second
    ``floor(t)``.
    """

    __slots__ = ("_first", "_second", "_seconds", "_size", "_sums", "_sums_at")

    def __init__(self, window: float) -> None:
        if not (math.isfinite(window) and window > 0):
            raise ValueError(f"window must be a finite number of seconds > 0, got {window}")
        self._size = math.ceil(window)
        self._seconds: list[int | None] = [None] * self._size
        self._first = [0] * self._size
        self._second = [0] * self._size
        # The totals last summed and the second they hold for: many calls a second ask
        # for the same window, and an add in that second only adds to them.
        self._sums = (0, 0)
        self._sums_at: int | None = None

    def add(self, now: float, first: int = 0, second: int = 0) -> None:
        """Count ``first`` and ``second`` events at instant ``now``."""
        second_of = floor(now)
        slot = second_of % self._size
        evicted = self._seconds[slot]
        if evicted == second_of:  # the slot counts this second already: most adds
            self._first[slot] += first
            if second:  # the breaker's successes and the budget's calls add none
                self._second[slot] += second
        else:
            self._seconds[slot] = second_of
            self._first[slot] = first
            self._second[slot] = second
            if evicted is not None and evicted > second_of:
                # The slot held a later second (an instant read before it), which the
                # kept totals counted: they no longer hold.
                self._sums_at = None
                return
        # The kept totals take this add as it is, unless they are for another second (an
        # earlier second the slot held was outside their window).
        if second_of == self._sums_at:
            firsts, seconds = self._sums
            self._sums = (firsts + first, seconds + second)
        else:
            self._sums_at = None

    def count(self, now: float) -> int:
        """Count one ``first`` event at ``now``; returns the ``first`` total over the window
        ending at ``now`` before it: ``totals(now)[0]`` then ``add(now, 1)``, in one call
        and, while the kept totals are for this second and its slot counts it (every call
        after the first of a second), without either."""
        second_of = floor(now)
        if second_of == self._sums_at:
            slot = second_of % self._size
            if self._seconds[slot] == second_of:
                firsts, seconds = self._sums
                self._first[slot] += 1
                self._sums = (firsts + 1, seconds)
                return firsts
        before = self.totals(now)[0]
        self.add(now, 1)
        return before

    def totals(self, now: float) -> tuple[int, int]:
        """Both counters summed over the window that ends at ``now``."""
        second_of = floor(now)
        if second_of == self._sums_at:
            return self._sums
        oldest = second_of - self._size
        first = second = 0
        for stamp, firsts, seconds in zip(self._seconds, self._first, self._second, strict=True):
            if stamp is not None and stamp > oldest:
                first += firsts
                second += seconds
        self._sums = (first, second)
        self._sums_at = second_of
        return self._sums

    def clear(self) -> None:
        self._seconds = [None] * self._size
        self._sums_at = None


class BreakerPermit:
    """Leave to make one call; settle it exactly once with the outcome.

    Only the first settle counts; any later one is a no-op, so a pipeline that settles in
    a ``finally`` as a safety net cannot count an outcome twice.
    """

    __slots__ = ("_breaker", "_generation", "_probe", "_settled")

    def __init__(self, breaker: CircuitBreaker, generation: int, probe: bool) -> None:
        self._breaker = breaker
        self._generation = generation
        self._probe = probe
        self._settled = False

    @property
    def probe(self) -> bool:
        """Whether this permit is one of the half-open probes."""
        return self._probe

    def success(self) -> None:
        # _settle and, while closed, the breaker's _on_success written out: a success
        # settles every call that gets a reply.
        if not self._settled:
            self._settled = True
            breaker = self._breaker
            if breaker._state is _CLOSED and self._generation == breaker._generation:
                breaker._window.add(breaker._clock.now(), 1)
            else:
                breaker._on_success(self._generation)

    def failure(self) -> None:
        """An outcome that counts against the provider (transient, degraded, rate limited)."""
        if self._settle():
            self._breaker._on_failure(self._generation)

    def ignore(self) -> None:
        """An outcome that says nothing about the provider's health (e.g. invalid request)."""
        if self._settle():
            self._breaker._on_neutral(self._generation, self._probe)

    def release(self) -> None:
        """The call was cancelled or never finished: give back a probe slot, count nothing."""
        if self._settle():
            self._breaker._on_neutral(self._generation, self._probe)

    def _settle(self) -> bool:
        if self._settled:
            return False
        self._settled = True
        return True


# Module constants: looking a member up on the enum class is slow enough to matter per call.
_CLOSED = BreakerState.CLOSED
_OPEN = BreakerState.OPEN
_HALF_OPEN = BreakerState.HALF_OPEN
_new = object.__new__


class CircuitBreaker:
    """Closed, open and half-open over a sliding window of outcomes.

    Opens when the window (``window`` seconds, counted in whole-second buckets) holds at
    least ``min_calls`` outcomes and failures make up at least ``failure_ratio`` of them;
    the check runs when a failure is recorded, so a success never opens the circuit.
    ``on_transition(old, new)`` runs synchronously on every transition.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        failure_ratio: float = 0.5,
        min_calls: int = 20,
        window: float = 30.0,
        open_for: float = 15.0,
        half_open_probes: int = 1,
        on_transition: Callable[[BreakerState, BreakerState], None] | None = None,
    ) -> None:
        if not 0.0 < failure_ratio <= 1.0:
            raise ValueError(f"failure_ratio must be in (0, 1], got {failure_ratio}")
        if min_calls < 1:
            raise ValueError(f"min_calls must be >= 1, got {min_calls}")
        if not (math.isfinite(open_for) and open_for >= 0):
            raise ValueError(f"open_for must be a finite number of seconds >= 0, got {open_for}")
        if half_open_probes < 1:
            raise ValueError(f"half_open_probes must be >= 1, got {half_open_probes}")
        self._clock = clock
        self._failure_ratio = failure_ratio
        self._min_calls = min_calls
        self._open_for = open_for
        self._half_open_probes = half_open_probes
        self._on_transition = on_transition
        # (calls, failures) per second.
        self._window = WindowCounts(window)
        self._state = _CLOSED
        self._generation = 0
        self._opened_at = 0.0
        self._probes = 0

    @property
    def state(self) -> BreakerState:
        """The current state; reading it moves OPEN to HALF_OPEN once ``open_for`` has passed."""
        if self._state is _OPEN and self._clock.now() >= self._opened_at + self._open_for:
            self._transition(_HALF_OPEN)
        return self._state

    @property
    def probes_in_flight(self) -> int:
        """Half-open probes admitted and not yet settled."""
        return self._probes

    def try_acquire(self) -> BreakerPermit | None:
        """A permit to call, or None when open or when every half-open probe is taken."""
        if self._state is _CLOSED:  # what ``state`` says then, without its call
            # BreakerPermit(self, self._generation, False) with its slots stored here: the
            # type call into __init__ cost more than the stores, on every attempt.
            permit = _new(BreakerPermit)
            permit._breaker = self
            permit._generation = self._generation
            permit._probe = False
            permit._settled = False
            return permit
        state = self.state
        if state is _CLOSED:
            return BreakerPermit(self, self._generation, False)
        if state is _HALF_OPEN and self._probes < self._half_open_probes:
            self._probes += 1
            return BreakerPermit(self, self._generation, True)
        return None

    def retry_after(self) -> float:
        """Seconds until a probe may be admitted.

        0 when closed or half-open: a half-open slot frees when a probe in flight settles,
        which no clock can foretell.
        """
        if self.state is _OPEN:
            return max(0.0, self._opened_at + self._open_for - self._clock.now())
        return 0.0

    def _on_success(self, generation: int) -> None:
        if generation != self._generation:
            return
        if self._state is _HALF_OPEN:
            self._transition(_CLOSED)
        else:
            self._window.add(self._clock.now(), 1)

    def _on_failure(self, generation: int) -> None:
        if generation != self._generation:
            return
        now = self._clock.now()
        if self._state is _HALF_OPEN:
            self._open(now)
            return
        self._window.add(now, first=1, second=1)
        calls, failures = self._window.totals(now)
        if calls >= self._min_calls and failures >= self._failure_ratio * calls:
            self._open(now)

    def _on_neutral(self, generation: int, probe: bool) -> None:
        if generation == self._generation and probe:
            self._probes -= 1

    def _open(self, now: float) -> None:
        self._opened_at = now
        self._transition(_OPEN)

    def _transition(self, new: BreakerState) -> None:
        old = self._state
        self._state = new
        self._generation += 1
        self._probes = 0
        if new is _CLOSED:
            self._window.clear()
        if self._on_transition is not None:
            self._on_transition(old, new)

    def __repr__(self) -> str:
        return f"CircuitBreaker(state={self._state.value}, generation={self._generation}, probes={self._probes})"
