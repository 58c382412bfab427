"""WindowCounts.add takes a shorter path when its slot already counts the second (issue
19: the breaker and the retry budget add on every call). Held here to a plain model of
the window: every add, in any order of instants (an instant may be read before a later
one was added), leaves totals() what summing the events of the window gives."""

from __future__ import annotations

from math import floor

from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.breaker import WindowCounts

instants = st.floats(0, 40, allow_nan=False)
ops = st.lists(
    st.tuples(
        st.booleans(),  # an add (True) or a totals read (False)
        instants,
        st.integers(0, 3),
        st.integers(0, 3),
    ),
    max_size=80,
)


def _expected(kept: dict[int, tuple[int, int]], now: float, size: int) -> tuple[int, int]:
    """The window as the ring holds it: per slot, the second it last counted."""
    second_of = floor(now)
    first = second = 0
    for stamp, (firsts, seconds) in kept.items():
        if second_of - size < stamp:
            first += firsts
            second += seconds
    return first, second


@settings(max_examples=400, deadline=None)
@given(window=st.sampled_from([1.0, 3.0, 10.0, 30.0]), script=ops)
def test_totals_after_any_adds_are_the_sum_over_the_window(
    window: float, script: list[tuple[bool, float, int, int]]
) -> None:
    counts = WindowCounts(window)
    size = counts._size
    # The model: slot -> (second it holds, firsts, seconds); a slot taken by another
    # second starts again from that second's events, as the ring does.
    ring: dict[int, tuple[int, int, int]] = {}
    for is_add, now, first, second in script:
        if is_add:
            second_of = floor(now)
            slot = second_of % size
            held = ring.get(slot)
            if held is not None and held[0] == second_of:
                ring[slot] = (second_of, held[1] + first, held[2] + second)
            else:
                ring[slot] = (second_of, first, second)
            counts.add(now, first, second)
        kept = {stamp: (f, s) for stamp, f, s in ring.values()}
        assert counts.totals(now) == _expected(kept, now, size)
        assert counts._first[floor(now) % size] >= 0
