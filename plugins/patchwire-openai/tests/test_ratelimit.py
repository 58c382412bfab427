"""x-ratelimit-* headers and Go-style durations."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.limiter import RateLimitInfo
from patchwire_openai.ratelimit import format_go_duration, parse_go_duration, rate_limit_info


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1h2m3s", 3723.0),
        ("6m0s", 360.0),
        ("12ms", 0.012),
        ("1.5s", 1.5),
        ("0.5ms", 0.0005),
        ("2m30.25s", 150.25),
        ("500us", 0.0005),
        ("500µs", 0.0005),
        ("250ns", 2.5e-7),
        (".5s", 0.5),
        ("0s", 0.0),
        ("0", 0.0),
        ("20", 20.0),  # a bare number: seconds
        (" 7s ", 7.0),
    ],
)
def test_go_durations_read_as_seconds(text: str, seconds: float) -> None:
    assert parse_go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["-1", "-5s", "", "s", "1x", "1h2", "abc", "1.2.3s", "nan", None])
def test_unreadable_or_negative_durations_are_unknown(text: str | None) -> None:
    assert parse_go_duration(text) is None


@settings(max_examples=300, deadline=None)
@given(st.floats(0, 10 * 3600, allow_nan=False))
def test_format_then_parse_gives_the_duration_back(seconds: float) -> None:
    """Invariant: parse(format(d)) == d to the millisecond (the simulator writes what the connector reads)."""
    parsed = parse_go_duration(format_go_duration(seconds))
    assert parsed is not None
    assert abs(parsed - seconds) <= 0.0005 + 1e-9


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 99), st.integers(0, 59), st.integers(0, 59), st.integers(0, 999))
def test_go_composition_is_the_sum_of_its_parts(h: int, m: int, s: int, ms: int) -> None:
    """Invariant: "<h>h<m>m<s>s<ms>ms" reads as the sum of its units, in any combination."""
    text = "".join(f"{v}{u}" for v, u in ((h, "h"), (m, "m"), (s, "s"), (ms, "ms")) if v) or "0s"
    assert parse_go_duration(text) == pytest.approx(h * 3600 + m * 60 + s + ms / 1000)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=20))
def test_any_text_reads_as_a_duration_or_none_and_never_raises(text: str) -> None:
    """Invariant: any header value gives a finite non-negative number or None."""
    value = parse_go_duration(text)
    assert value is None or value >= 0


def test_headers_become_rate_limit_info() -> None:
    headers = {
        "x-ratelimit-limit-requests": "60",
        "x-ratelimit-remaining-requests": "59",
        "x-ratelimit-reset-requests": "1s",
        "x-ratelimit-limit-tokens": "150000",
        "x-ratelimit-remaining-tokens": "149984",
        "x-ratelimit-reset-tokens": "6m0s",
    }
    assert rate_limit_info(headers) == RateLimitInfo(60, 59, 1.0, 150000, 149984, 360.0)


def test_partial_and_unknown_windows_are_tolerated() -> None:
    assert rate_limit_info({}) is None
    assert rate_limit_info({"x-ratelimit-limit-requests": "-1"}) is None
    assert (
        rate_limit_info({"x-ratelimit-limit-tokens": "0", "x-ratelimit-remaining-tokens": "0"})
        is None
    )
    only_tokens = rate_limit_info(
        {"x-ratelimit-remaining-tokens": "12", "x-ratelimit-reset-tokens": "-1"}
    )
    assert only_tokens == RateLimitInfo(tokens_remaining=12)
