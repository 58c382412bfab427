"""Histogram.record asks first whether a sample lies in ``[MIN_VALUE, MAX_VALUE]`` (nearly
every latency does) and only then for an error or an end bucket (issue 19: every succeeded
call records one). Invariant: after any sequence of samples, each recorded or refused with
the same error as the former reading, a histogram's buckets, count, sum, min and max are
the former reading's."""

from __future__ import annotations

import math
from fractions import Fraction

from hypothesis import example, given
from hypothesis import strategies as st
from patchwire.histogram import (
    _INV_LOG_GAMMA,
    _OVERFLOW,
    _UNDERFLOW,
    MAX_VALUE,
    MIN_VALUE,
    Histogram,
)


def former_record(histogram: Histogram, seconds: float) -> None:
    """record() as it read before: the error first, then each end, then the log."""
    if not 0.0 <= seconds < math.inf:
        raise ValueError(f"a latency must be a finite number >= 0, got {seconds!r}")
    if seconds < MIN_VALUE:
        index = _UNDERFLOW
    elif seconds > MAX_VALUE:
        index = _OVERFLOW
    else:
        index = math.ceil(math.log(seconds) * _INV_LOG_GAMMA)
    buckets = histogram._buckets
    buckets[index] = buckets.get(index, 0) + 1
    histogram.count += 1
    histogram.sum += seconds
    if seconds < histogram.min:
        histogram.min = seconds
    if seconds > histogram.max:
        histogram.max = seconds


samples = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=MIN_VALUE / 4, max_value=MIN_VALUE * 4),
    st.floats(min_value=MAX_VALUE / 4, max_value=MAX_VALUE * 4),
    st.integers(min_value=-5, max_value=10**400),
    st.sampled_from(
        [
            MIN_VALUE,
            MAX_VALUE,
            math.nextafter(MIN_VALUE, 0.0),
            -0.0,
            5e-324,
            Fraction(1, 3),
            "1",
            None,
        ]
    ),
)


def _state(histogram: Histogram) -> tuple[object, ...]:
    return (
        histogram._buckets,
        histogram.count,
        repr(histogram.sum),
        repr(histogram.min),
        repr(histogram.max),
    )


@given(st.lists(samples, max_size=12))
@example([MIN_VALUE, MAX_VALUE, math.nextafter(MAX_VALUE, math.inf), 0.0, -0.0, 0.25])
@example([float("nan"), float("inf"), -1e-9, 10**400])
def test_record_keeps_what_the_former_reading_kept(sequence: list[object]) -> None:
    mine, theirs = Histogram(), Histogram()
    for seconds in sequence:
        outcomes = []
        for record in (mine.record, lambda s: former_record(theirs, s)):
            try:
                record(seconds)  # type: ignore[arg-type]  # odd types on purpose
                outcomes.append(None)
            except Exception as error:  # compared by type and message
                outcomes.append((type(error), str(error)))
        assert outcomes[0] == outcomes[1]
        assert _state(mine) == _state(theirs)
