"""The retry budget's balance with its caps written out as comparisons (issue 19) is the
balance of the min and max formulas the module documents, to the last bit, whatever the
order of calls, retries, snapshots and clock steps (zero and backward steps included)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.budget import RetryBudget


class SteppedClock:
    """A clock the test moves by hand, backwards too."""

    def __init__(self, now: float) -> None:
        self.time = now

    def now(self) -> float:
        return self.time


class Reference:
    """The balance as ``max``/``min`` formulas: deposits of ``ratio`` per call and
    ``min_per_second`` per second, capped at ``max(burst, ratio * calls in the window)``."""

    def __init__(self, budget: RetryBudget, clock: SteppedClock) -> None:
        self.budget, self.clock = budget, clock
        self.balance = budget._burst
        self.updated = clock.now()

    def cap(self, requests: int) -> float:
        return max(self.budget._burst, self.budget._ratio * requests)

    def refill(self, now: float, requests: int) -> None:
        elapsed = max(0.0, now - self.updated)
        self.balance = min(self.cap(requests), self.balance + self.budget._min_per_second * elapsed)
        self.updated = max(self.updated, now)

    def record_request(self, requests_before: int) -> None:
        self.refill(self.clock.now(), requests_before)
        self.balance = min(self.cap(requests_before + 1), self.balance + self.budget._ratio)


_steps = st.lists(
    st.tuples(
        st.sampled_from(["call", "retry", "snapshot"]),
        st.sampled_from([0.0, 0.0, 0.001, 0.25, 1.0, 3.7, -0.5]),
    ),
    max_size=80,
)


@settings(max_examples=200, deadline=None)
@given(
    steps=_steps,
    ratio=st.sampled_from([0.0, 0.1, 0.5, 1, 2.0]),
    burst=st.sampled_from([1.0, 3, 10.0]),
    per_second=st.sampled_from([0.0, 0.3, 1.0]),
)
def test_the_balance_is_the_min_and_max_formulas(
    steps: list[tuple[str, float]], ratio: float, burst: float, per_second: float
) -> None:
    clock = SteppedClock(100.0)
    budget = RetryBudget(clock, ratio=ratio, burst=burst, min_per_second=per_second, window=5.0)
    reference = Reference(budget, clock)
    for action, step in steps:
        clock.time += step  # backward steps too: the balance must never earn from them
        now = clock.now()
        requests, _ = budget._counts.totals(now)
        if action == "call":
            reference.record_request(requests)
            budget.record_request()
        elif action == "retry":
            reference.refill(now, requests)
            granted = budget.try_spend()
            # Refused, or granted by the gate: the balance as refilled; granted from the
            # balance: exactly one whole retry less.
            paid = budget._balance != reference.balance
            if paid:
                assert granted and budget._balance == reference.balance - 1.0
                reference.balance -= 1.0
        else:
            reference.refill(now, requests)
            assert budget.snapshot().balance == reference.balance
        assert budget._balance == reference.balance
        assert type(budget._balance) is type(reference.balance)
        assert budget._updated == reference.updated
