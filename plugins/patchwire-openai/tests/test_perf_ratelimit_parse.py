"""rate_limit_info reads the common forms of OpenAI's counts and Go durations with string
methods instead of a regex (issue 19: every OpenAI reply carries the six headers).

Invariant: for every header text, the fast path returns exactly what the regex reading
returns. The regex reading is the reference: parse_go_duration keeps it as its fallback,
and the count and header readings as they were are written out here."""

from __future__ import annotations

from collections.abc import Mapping

from hypothesis import example, given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy
from patchwire.limiter import RateLimitInfo
from patchwire_openai.ratelimit import (
    _BARE,
    _count,
    _parse_go_duration,
    format_go_duration,
    parse_go_duration,
    rate_limit_info,
)


def reference_duration(text: str | None) -> float | None:
    """The regex reading, which parse_go_duration keeps as its fallback for every other text."""
    return None if text is None else _parse_go_duration(text.strip())


def reference_count(text: str | None) -> float | None:
    """_count as it was, the regex for every text, with float() given the stripped text it
    matched (given the whole text, it raised on a blank float does not strip: '0\\x1f')."""
    if text is None or not _BARE.fullmatch(text.strip()):
        return None
    return float(text.strip())


def reference_info(headers: Mapping[str, str]) -> RateLimitInfo | None:
    """rate_limit_info as it was, on the reference readings."""
    found: dict[str, float] = {}
    for kind in ("requests", "tokens"):
        limit_text = headers.get(f"x-ratelimit-limit-{kind}")
        limit = reference_count(limit_text)
        if limit_text is not None and (limit is None or limit <= 0):
            continue
        remaining = reference_count(headers.get(f"x-ratelimit-remaining-{kind}"))
        reset = reference_duration(headers.get(f"x-ratelimit-reset-{kind}"))
        for name, value in (("limit", limit), ("remaining", remaining), ("reset", reset)):
            if value is not None:
                found[f"{kind}_{name}"] = value
    return RateLimitInfo(**found) if found else None


def same(a: float | None, b: float | None) -> bool:
    """Equal and of the same type, inf included (nan never comes out of either)."""
    return type(a) is type(b) and a == b


# non-ASCII digits too: ``\\d`` and float read "٣" as 3, neither reads the superscript "²"
# that str.isdigit calls a digit
_DIGITS = st.sampled_from("0123456789") | st.sampled_from("٣１߁𝟗²³①")
_WHOLE = st.text(_DIGITS, min_size=1, max_size=4) | st.sampled_from(["9" * 400, "0" * 30 + "7"])
_NUMBERS = st.one_of(
    _WHOLE,
    st.builds(lambda a, b: f"{a}.{b}", _WHOLE, _WHOLE),
    st.builds(lambda b: f".{b}", _WHOLE),
    st.builds(lambda a: f"{a}.", _WHOLE),
    st.sampled_from(["", "-1", "-0", "inf", "nan", "1e3", "1_000", "0x1f"]),
)
_UNIT_TEXT = st.sampled_from(["h", "m", "s", "ms", "us", "µs", "μs", "ns", "", "x", "S", "sec"])
_SPACE = st.sampled_from(["", "", " ", "\t", "\u00a0", "\n "])
# what OpenAI writes: Go's own forms of whole and fractional milliseconds, seconds, minutes
_GO = st.one_of(
    st.builds("{}ms".format, st.integers(0, 999)),
    st.builds(format_go_duration, st.floats(0, 100 * 3600, allow_nan=False)),
    st.builds(lambda s: f"{s}s", st.floats(0, 60, allow_nan=False).map(lambda s: round(s, 3))),
)
_DURATIONS = st.one_of(
    _GO,
    st.builds(
        lambda sign, pairs, before, after: before + sign + "".join(pairs) + after,
        st.sampled_from(["", "", "+", "-", "++"]),
        st.lists(st.builds(str.__add__, _NUMBERS, _UNIT_TEXT), max_size=4),
        _SPACE,
        _SPACE,
    ),
    st.text(max_size=12),
)
_COUNTS = st.one_of(
    st.builds(
        lambda sign, n, before, after: before + sign + n + after,
        st.sampled_from(["", "", "+", "-"]),
        _NUMBERS,
        _SPACE,
        _SPACE,
    ),
    st.text(max_size=8),
)

ODD = [
    "6m0s",
    "1.234s",
    "12ms",
    ".5s",
    "5.s",
    "1h2m3.004s",
    "500µs",
    "500μs",
    "250ns",
    " 7s ",
    "+1s",
    "٣s",
    "٣",
    "",
    "-1",
    "inf",
    "nan",
    "1h",
    "1m",
    "hm1s",
    "h1s",
    "1h1h1s",
    "1m2m3s",
    "1m2h3s",
    "1s2s",
    "9ms",
    "13ms",
    "²",
    "²s",
    "1²ms",
    "1m²s",
    "1.2.3s",
    "9" * 400 + "ms",
    "9" * 400 + "h0m0s",
    "9" * 400,
    "0s",
    "1 s",
    "0\x1f",  # str.strip strips it, float does not: the former reading raised here
    " 7\x1c",
]


@settings(max_examples=2000, deadline=None)
@given(_DURATIONS)
@example(None)
def test_a_go_duration_reads_as_the_regex_reads_it(text: str | None) -> None:
    for sample in (text, *ODD):
        assert same(parse_go_duration(sample), reference_duration(sample)), sample


@settings(max_examples=1000, deadline=None)
@given(_COUNTS)
@example(None)
def test_a_count_reads_as_the_regex_reads_it(text: str | None) -> None:
    for sample in (text, *ODD):
        assert same(_count(sample), reference_count(sample)), sample


_NAMES = [
    f"x-ratelimit-{what}-{kind}"
    for kind in ("requests", "tokens")
    for what in ("limit", "remaining", "reset")
]


@settings(max_examples=1000, deadline=None)
@given(st.dictionaries(st.sampled_from(_NAMES), _COUNTS | _DURATIONS))
def test_the_headers_read_as_the_regex_reading_reads_them(sent: dict[str, str]) -> None:
    want = reference_info(sent)
    assert rate_limit_info(sent) == want
    assert rate_limit_info(CIMultiDictProxy(CIMultiDict(sent))) == want
    if want is not None:  # field by field, float for float
        got = rate_limit_info(sent)
        assert got is not None
        for name in RateLimitInfo.__slots__:
            if not name.startswith("__"):
                assert same(getattr(got, name), getattr(want, name)), name
