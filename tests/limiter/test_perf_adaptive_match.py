"""Adaptive keeps, per kind, the last limit a provider reported and the window it matched
(issue 19: the same limits come on every reply, and matching took a log per window).
Invariant: whatever limits come, in whatever order, the kept answer is the one matching
anew gives, and a limit that cannot be matched fails as it did."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.limiter import AdaptivePolicy, Kind, Window
from patchwire.limiter.adaptive import Adaptive

_WINDOWS = st.lists(
    st.builds(
        Window.of,
        st.sampled_from(["a", "b", "c"]),
        st.sampled_from([Kind.REQUESTS, Kind.TOKENS]),
        st.floats(0.5, 1e8),
        st.sampled_from([1.0, 60.0, 86400.0]),
    ),
    max_size=5,
)
_LIMITS = st.none() | st.sampled_from([0, -1, 0.0, 60, 60.0, 1e4, 3e7]) | st.floats(-10, 1e9)
_REPORTS = st.lists(st.tuples(st.sampled_from([Kind.REQUESTS, Kind.TOKENS]), _LIMITS), max_size=30)


@settings(max_examples=500, deadline=None)
@given(_WINDOWS, _REPORTS)
def test_the_kept_match_is_the_one_matching_anew_gives(
    windows: list[Window], reports: list[tuple[Kind, float | None]]
) -> None:
    kept = Adaptive(windows, AdaptivePolicy())
    for kind, limit in reports:
        assert kept._match(kind, limit) == Adaptive(windows, AdaptivePolicy())._nearest(kind, limit)


def test_a_limit_that_cannot_be_matched_fails_every_time_as_it_did() -> None:
    adaptive = Adaptive([Window.of("t", Kind.TOKENS, 1000, 60.0)], AdaptivePolicy())
    for _ in range(2):  # nothing kept from a failure
        with pytest.raises(ValueError):
            adaptive._match(Kind.TOKENS, math.inf)
    assert adaptive._match(Kind.TOKENS, math.nan) == 0  # nan never equals: matched anew
    assert adaptive._match(Kind.TOKENS, math.nan) == 0
