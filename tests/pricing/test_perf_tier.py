"""tier_name keeps the regular expression's answer per short str (issue 19); its answers
must be the expression's for every value, the first time and every time after, whatever
else was asked in between (the kept answers are bounded and dropped when full)."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.prices import tier_name
from patchwire.prices.model import _TIER_ANSWERS, _TIER_ANSWERS_KEPT

_NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")


def reference(value: Any) -> str | None:
    return value if isinstance(value, str) and _NAME.fullmatch(value) else None


class Tier(str):
    """A str subclass: handed back as itself when it is a name."""


names = st.from_regex(_NAME, fullmatch=True)
values = st.one_of(
    names,
    st.text(max_size=40),
    st.text(alphabet="abz09_-\n", min_size=30, max_size=34),  # around the length bound
    st.sampled_from(["default", "flex", "priority", "Default", "", "a" * 32, "a" * 33]),
    names.map(Tier),
    st.none(),
    st.integers(),
    st.lists(st.just("default"), max_size=1),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(values, min_size=1, max_size=3 * _TIER_ANSWERS_KEPT))
def test_tier_name_answers_as_the_expression_every_time(asked: list[Any]) -> None:
    for value in [*asked, *reversed(asked)]:  # each value again, after the others
        got, want = tier_name(value), reference(value)
        assert got == want and got is want and type(got) is type(want)
    assert len(_TIER_ANSWERS) <= _TIER_ANSWERS_KEPT
    assert all(len(kept) <= 32 for kept in _TIER_ANSWERS)  # a long value is never kept
