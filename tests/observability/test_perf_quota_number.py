"""The aggregator reads a reported quota's numbers with a type tuple built once instead of
``int | float`` built on every reading (issue 19: seven readings per rate-limit report).
Invariant: ``_number`` answers as the union test did for every value (a result or the
same exception), and a report keeps exactly the numbers that reading keeps."""

from __future__ import annotations

import enum
import math

from hypothesis import example, given
from hypothesis import strategies as st
from patchwire.clock import VirtualClock
from patchwire.events import Event, EventKind
from patchwire.metrics import MetricsAggregator
from patchwire.metrics.aggregator import _number


class _Level(enum.IntEnum):
    LOW = 3


class _Float(float):
    pass


def _union_reading(value: object) -> object:
    """The former reading, with the union built per call."""
    try:
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return value
        return None
    except Exception as error:  # compared by type
        return type(error)


values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**308, max_value=10**400),  # too large for a float
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from([_Level.LOW, _Float(2.5), _Float("inf"), b"7", [1], 1j]),
)


@given(values)
def test_a_number_reads_as_the_union_test_read_it(value: object) -> None:
    try:
        mine: object = _number(value)
    except Exception as error:  # compared by type
        mine = type(error)
    expected = _union_reading(value)
    assert mine == expected or (mine is None and expected is None)
    assert type(mine) is type(expected)


NUMBERS = ["requests_limit", "requests_remaining", "tokens_limit", "tokens_remaining"]
RESETS = ["requests_reset", "tokens_reset"]


def _kept(key: str, value: object) -> object:
    """What the former note_quota kept for a key: a number, or a reset's short text."""
    number = _union_reading(value)
    if number is None and key in RESETS and isinstance(value, str) and len(value) <= 64:
        return value
    return number


@given(st.dictionaries(st.sampled_from([*NUMBERS, "limiter_used_pct", *RESETS]), values))
@example({"requests_limit": 0, "tokens_reset": "", "requests_reset": None})
def test_a_report_keeps_the_numbers_the_union_test_kept(data: dict[str, object]) -> None:
    """Also: a key left out or None is skipped without changing what is kept."""
    if any(isinstance(_union_reading(v), type) for v in data.values()):
        return  # a value the reading raises on raises in both (held above)
    aggregator = MetricsAggregator(VirtualClock(5.0))
    aggregator(Event(EventKind.QUOTA_REPORTED, "c", "m", time=5.0, data=data))
    kept = {k: _kept(k, v) for k, v in data.items() if _kept(k, v) is not None}
    quota = aggregator._series[("c", "m")].quota
    assert {k: v for k, v in quota.items() if k != "reported_at"} == kept
    assert ("reported_at" in quota) == bool(kept)
