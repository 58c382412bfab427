"""WindowCounts.count is ``totals(now)[0]`` then ``add(now, 1)`` in one call, shorter while
the kept totals are for the second it counts (issue 19: the retry budget counts every
call). Held here to those two calls on a second window fed the same script: the same
answer from every count and the same totals after every step, in any order of instants
(an instant may be read before a later one was counted)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.breaker import WindowCounts

steps = st.lists(
    st.tuples(
        st.sampled_from(["count", "add", "totals"]),
        st.floats(0, 40, allow_nan=False),
        st.integers(0, 3),
        st.integers(0, 3),
    ),
    max_size=80,
)


@settings(max_examples=400, deadline=None)
@given(window=st.sampled_from([1.0, 3.0, 10.0, 30.0]), script=steps)
def test_count_is_totals_then_add_one(
    window: float, script: list[tuple[str, float, int, int]]
) -> None:
    fused, reference = WindowCounts(window), WindowCounts(window)
    for action, now, first, second in script:
        if action == "count":
            before = reference.totals(now)[0]
            reference.add(now, 1)
            assert fused.count(now) == before
        elif action == "add":
            fused.add(now, first, second)
            reference.add(now, first, second)
        else:
            assert fused.totals(now) == reference.totals(now)
    for now in (0.0, 20.5, 40.0):
        assert fused.totals(now) == reference.totals(now)


def test_counts_within_one_second_take_the_kept_totals() -> None:
    counts = WindowCounts(10.0)
    assert [counts.count(100.0 + i / 10) for i in range(5)] == [0, 1, 2, 3, 4]
    assert counts._sums_at == 100 and counts._sums == (5, 0)
    assert counts.count(101.5) == 5 and counts.totals(101.5) == (6, 0)
