"""A rate-limit report's exact floats and ints are read without calling ``_number`` (issue
19: its frame was most of a report's cost, six readings per reply carrying rate-limit
headers). Invariant: after any sequence of reports, the quota a series keeps (and the
error a report raises, if any, with what it kept up to it) is what the reading through
``_number`` for every value kept."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st
from patchwire.metrics.aggregator import _number, _Series

from .test_perf_quota_number import values  # every kind of value a report may hold

NUMBERS = ("requests_limit", "requests_remaining", "tokens_limit", "tokens_remaining")
RESETS = ("requests_reset", "tokens_reset")
KEYS = (*NUMBERS, "limiter_used_pct", *RESETS)


def reference(quota: dict[str, Any], data: Mapping[str, Any], now: float) -> None:
    """note_quota as it read before: every value through _number."""
    seen = False
    for key in (*NUMBERS, "limiter_used_pct"):
        value = data.get(key)
        if value is not None:
            number = _number(value)
            if number is not None:
                quota[key] = number
                seen = True
    for key in RESETS:
        value = data.get(key)
        if value is None:
            continue
        reset = _number(value)
        if reset is None and isinstance(value, str) and len(value) <= 64:
            reset = value
        if reset is not None:
            quota[key] = reset
            seen = True
    if seen:
        quota["reported_at"] = now


reports = st.lists(
    st.dictionaries(st.sampled_from([*KEYS, "other"]), values | st.text(min_size=60, max_size=70)),
    max_size=4,
)


def _outcome(note: Any, data: Mapping[str, Any], now: float) -> object:
    try:
        note(data, now)
    except Exception as error:  # compared by type, with what was kept up to it
        return type(error)
    return None


@given(reports)
@example([{"requests_limit": 10000.0, "tokens_reset": 0.003, "requests_reset": "6ms"}])
@example([{"requests_limit": float("inf"), "tokens_limit": float("nan"), "tokens_reset": -0.0}])
@example([{"tokens_limit": 7, "requests_remaining": 10**400, "tokens_reset": True}])
def test_a_report_keeps_what_the_reading_through_number_kept(
    sequence: list[dict[str, Any]],
) -> None:
    series = _Series(4)
    expected: dict[str, Any] = {}
    for now, data in enumerate(sequence):
        mine = _outcome(series.note_quota, data, float(now))
        theirs = _outcome(lambda d, t: reference(expected, d, t), data, float(now))
        assert mine == theirs
        assert series.quota == expected
        assert [type(v) for v in series.quota.values()] == [type(v) for v in expected.values()]
        assert list(series.quota) == list(expected)
