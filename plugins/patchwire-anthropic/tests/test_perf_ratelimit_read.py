"""rate_limit_info spells its header names once, reads the clock once a reply and remembers
the instants the reset texts it read name (issue 19: every Anthropic reply carries them).

Invariant: for every header set and every instant, it returns exactly what the reading it
replaces returns (written out here as the reference), whether a reset text is remembered
or not; and what it remembers stays bounded whatever texts a server sends."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy
from patchwire.limiter import RateLimitInfo
from patchwire_anthropic import ratelimit
from patchwire_anthropic.ratelimit import parse_reset, rate_limit_info

Family = tuple[float | None, float | None, float | None]


def reference_reset(value: str | None, now: float) -> float | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return None if when.tzinfo is None else max(0.0, when.timestamp() - now)


def reference_number(value: str | None) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


def reference_info(headers: Mapping[str, str], now: float) -> RateLimitInfo | None:
    def read(family: str) -> Family:
        prefix = f"anthropic-ratelimit-{family}-"
        return (
            reference_number(headers.get(f"{prefix}limit")),
            reference_number(headers.get(f"{prefix}remaining")),
            reference_reset(headers.get(f"{prefix}reset"), now),
        )

    requests, tokens = read("requests"), read("tokens")
    if all(v is None for v in tokens):
        parts = read("input-tokens"), read("output-tokens")
        sums = [[v for v in (parts[0][i], parts[1][i]) if v is not None] for i in range(3)]
        tokens = (
            sum(sums[0]) if sums[0] else None,
            sum(sums[1]) if sums[1] else None,
            max(sums[2]) if sums[2] else None,
        )
    if all(v is None for v in requests + tokens):
        return None
    return RateLimitInfo(*requests, *tokens)


NOW = 1_796_619_600.0
_INSTANTS = st.builds(
    lambda seconds, zone: datetime.fromtimestamp(NOW + seconds, zone),
    st.floats(-10, 120, allow_nan=False).map(lambda s: round(s, 3)),
    st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(-timedelta(hours=5))]),
)
_RESETS = st.one_of(
    _INSTANTS.map(lambda when: when.strftime("%Y-%m-%dT%H:%M:%SZ")),  # what Anthropic sends
    _INSTANTS.map(datetime.isoformat),
    _INSTANTS.map(lambda when: when.replace(tzinfo=None).isoformat()),  # no time zone
    _INSTANTS.map(lambda when: f" {when.isoformat().lower()}\t"),
    st.sampled_from(["", "Z", "not a time", "2030-01-01", "2030-01-01T00:00:00ZZ", "٢٠٣٠"]),
    st.text(max_size=25),
)
_NUMBERS = st.one_of(
    st.integers(-2, 10**7).map(str),
    st.sampled_from(["", " 5 ", "+3", "1.5", "1e3", "inf", "-inf", "nan", "٣", "²", "-0"]),
    st.text(max_size=6),
)
_FAMILIES = ["requests", "tokens", "input-tokens", "output-tokens"]
_NAMES = {
    f"anthropic-ratelimit-{family}-{what}": _RESETS if what == "reset" else _NUMBERS
    for family in _FAMILIES
    for what in ("limit", "remaining", "reset")
}


@st.composite
def _headers(draw: st.DrawFn) -> dict[str, str]:
    names = draw(st.sets(st.sampled_from(sorted(_NAMES))))
    return {name: draw(_NAMES[name]) for name in sorted(names)}


def same(a: RateLimitInfo | None, b: RateLimitInfo | None) -> bool:
    """Equal field by field, nan for nan and float for float."""
    if a is None or b is None:
        return a is b
    return all(
        type(x := getattr(a, name)) is type(y := getattr(b, name))
        and (
            x == y
            or (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y))
        )
        for name in (
            "requests_limit",
            "requests_remaining",
            "requests_reset",
            "tokens_limit",
            "tokens_remaining",
            "tokens_reset",
        )
    )


@settings(max_examples=1000, deadline=None)
@given(_RESETS | st.none(), st.floats(NOW - 100, NOW + 200, allow_nan=False))
def test_a_reset_reads_as_before_whether_remembered_or_not(text: str | None, now: float) -> None:
    want = reference_reset(text, now)
    assert parse_reset(text, now) == want  # read, or remembered from an earlier example
    assert parse_reset(text, now) == want  # remembered now


@settings(max_examples=1000, deadline=None)
@given(_headers(), st.floats(NOW - 100, NOW + 200, allow_nan=False))
def test_the_headers_read_as_before(sent: dict[str, str], now: float) -> None:
    want = reference_info(sent, now)
    assert same(rate_limit_info(sent, now), want)
    assert same(rate_limit_info(CIMultiDictProxy(CIMultiDict(sent)), now), want)
    # any spelling of the names, in aiohttp's headers
    assert same(
        rate_limit_info(
            CIMultiDictProxy(CIMultiDict({k.upper(): v for k, v in sent.items()})), now
        ),
        want,
    )


def test_what_is_remembered_stays_bounded_whatever_the_server_sends() -> None:
    for second in range(1000):
        text = datetime.fromtimestamp(NOW + second, UTC).isoformat()
        assert parse_reset(text, NOW) == float(second)
        assert len(ratelimit._INSTANTS) <= 64
