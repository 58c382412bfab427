"""OpenAI's ``x-ratelimit-*`` headers and the Go-style durations their resets are written in.

``x-ratelimit-reset-tokens: 6m0s`` is Go's ``time.Duration`` text: ``<number><unit>``
pairs with units h, m, s, ms, us/µs, ns and fractions allowed (``1.5s``, ``1h2m3.004s``),
so it is read with a regex, not ``float``. Deployments differ: Azure and some paths send
``-1`` or ``0`` or leave headers out, which read as "unknown" rather than as a limit.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Final

from multidict import istr
from patchwire.limiter import RateLimitInfo
from patchwire.limiter.adaptive import reported_limits

__all__ = ["format_go_duration", "parse_go_duration", "rate_limit_info"]

_UNITS: Final = {
    "h": 3600.0,
    "m": 60.0,
    "s": 1.0,
    "ms": 1e-3,
    "us": 1e-6,
    "µs": 1e-6,  # micro sign, as Go writes it
    "μs": 1e-6,  # Greek mu, which some servers write instead
    "ns": 1e-9,
}
_NUMBER: Final = r"(?:\d+(?:\.\d*)?|\.\d+)"
# Longer units first, so "ms" is not read as "m" followed by a stray "s".
_UNIT: Final = r"(?:ms|us|µs|μs|ns|h|m|s)"
_PAIR: Final = re.compile(rf"({_NUMBER})({_UNIT})")
_DURATION: Final = re.compile(rf"\+?(?:{_NUMBER}{_UNIT})+")
_BARE: Final = re.compile(rf"\+?{_NUMBER}")


def parse_go_duration(text: str | None) -> float | None:
    """Seconds in a Go duration (``1h2m3s``, ``6m0s``, ``12ms``, ``1.5s``), or None.

    A bare non-negative number is taken as seconds (some compatible servers send one);
    negative values (``-1`` for "unknown") and anything unreadable give None.
    """
    if text is None:
        return None
    text = text.strip()
    # Every reply from OpenAI carries two resets, nearly always of the forms Go writes
    # itself (``12ms``, ``8.64s``, ``6m0s``, ``1h2m3s``): those are read with string
    # methods, a regex costing several times more (issue 19). Anything else, and anything
    # not plain ASCII (``isdigit`` is true for other scripts' digits too), takes the regex.
    if text.isascii():
        if text.isdigit():
            return float(text)
        if text.endswith("ms"):
            number = text[:-2]
            if number.isdigit():
                total = float(number) * 1e-3
                return total if math.isfinite(total) else None
        elif text.endswith("s") and text[-2:-1].isdigit():
            seconds = _hms(text[:-1])
            if seconds is not None:
                return seconds if math.isfinite(seconds) else None
    return _parse_go_duration(text)


def _hms(text: str) -> float | None:
    """``[<h>h][<m>m]<s>[.<f>]`` (the ``s`` taken off) in seconds, summed as the regex
    reading sums its pairs; None for any other shape."""
    hours, h, rest = text.rpartition("h")
    minutes, m, seconds = rest.rpartition("m")
    if (h and not hours.isdigit()) or (m and not minutes.isdigit()):
        return None
    if not seconds.isdigit():
        whole, point, fraction = seconds.partition(".")
        if not (point and whole.isdigit() and fraction.isdigit()):
            return None
    # a missing unit adds 0.0, which leaves the sum exactly as the regex reading makes it
    return (
        (float(hours) * 3600.0 if h else 0.0)
        + (float(minutes) * 60.0 if m else 0.0)
        + float(seconds)
    )


def _parse_go_duration(text: str) -> float | None:
    """parse_go_duration's reading of any stripped text, by regex."""
    if _BARE.fullmatch(text):
        return float(text)
    if not _DURATION.fullmatch(text):
        return None
    total = sum(float(number) * _UNITS[unit] for number, unit in _PAIR.findall(text))
    return total if math.isfinite(total) else None


def format_go_duration(seconds: float) -> str:
    """Go's ``Duration.String()`` to the millisecond: ``0s``, ``12ms``, ``1.5s``, ``6m0s``, ``1h2m3s``."""
    if seconds <= 0:
        return "0s"
    millis = round(seconds * 1000)
    if millis == 0:
        return f"{max(1, round(seconds * 1e6))}µs"
    if millis < 1000:
        return f"{millis}ms"
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs = f"{rest / 1000:.3f}".rstrip("0").rstrip(".")
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def _count(text: str | None) -> float | None:
    if text is None:
        return None
    # a count of ASCII digits (what every reply carries) without the regex
    if text.isascii() and text.isdigit():
        return float(text)
    # float() reads the stripped text: str.strip also strips what float does not take as
    # blank (\x1c-\x1f), so '5\x1f' passed the match and raised out of the reply's handling
    stripped = text.strip()
    if not _BARE.fullmatch(stripped):
        return None
    return float(stripped)


# The six headers, spelled once rather than on every reply, as istr (multidict's
# case-insensitive text, which a CIMultiDict reads without folding case again on each
# look-up; a plain str subclass to any other mapping).
_LIMIT_REQUESTS: Final = istr("x-ratelimit-limit-requests")
_REMAINING_REQUESTS: Final = istr("x-ratelimit-remaining-requests")
_RESET_REQUESTS: Final = istr("x-ratelimit-reset-requests")
_LIMIT_TOKENS: Final = istr("x-ratelimit-limit-tokens")
_REMAINING_TOKENS: Final = istr("x-ratelimit-remaining-tokens")
_RESET_TOKENS: Final = istr("x-ratelimit-reset-tokens")
_HEADERS: Final = (
    _LIMIT_REQUESTS,
    _REMAINING_REQUESTS,
    _RESET_REQUESTS,
    _LIMIT_TOKENS,
    _REMAINING_TOKENS,
    _RESET_TOKENS,
)
_Window = tuple[float | None, float | None, float | None]  # limit, remaining, reset


def rate_limit_info(headers: Mapping[str, str]) -> RateLimitInfo | None:
    """What the ``x-ratelimit-*`` headers say, or None when they say nothing usable.

    A window whose limit is written as 0 or less is unknown, and so are its remaining
    count and reset: a deployment that does not track the window says so that way.
    """
    # Most compatible servers send none of the six: one look over the reply's headers (in
    # C for aiohttp's CIMultiDictProxy, case-insensitive as its get is) instead of six
    # look-ups (issue 19: ~3.7k instructions a reply).
    if headers.keys().isdisjoint(_HEADERS):
        return None
    get = headers.get
    requests_limit, requests_remaining, requests_reset = _window(
        get(_LIMIT_REQUESTS), get(_REMAINING_REQUESTS), get(_RESET_REQUESTS)
    )
    tokens_limit, tokens_remaining, tokens_reset = _window(
        get(_LIMIT_TOKENS), get(_REMAINING_TOKENS), get(_RESET_TOKENS)
    )
    if (
        requests_limit is None
        and requests_remaining is None
        and requests_reset is None
        and tokens_limit is None
        and tokens_remaining is None
        and tokens_reset is None
    ):
        return None
    return reported_limits(
        requests_limit,
        requests_remaining,
        requests_reset,
        tokens_limit,
        tokens_remaining,
        tokens_reset,
    )


_UNKNOWN: Final[_Window] = (None, None, None)


def _window(limit_text: str | None, remaining_text: str | None, reset_text: str | None) -> _Window:
    """One window's limit, remaining count and reset; all None when its limit says unknown."""
    limit = _count(limit_text)
    if limit_text is not None and (limit is None or limit <= 0):
        return _UNKNOWN
    return limit, _count(remaining_text), parse_go_duration(reset_text)
