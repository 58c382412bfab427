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
    if text is None or not _BARE.fullmatch(text.strip()):
        return None
    return float(text)


# Per window: its name and its three headers, spelled once rather than on every reply, as
# istr (multidict's case-insensitive text, which a CIMultiDict reads without folding case
# again on each look-up; a plain str subclass to any other mapping).
_WINDOWS: Final = tuple(
    (
        kind,
        istr(f"x-ratelimit-limit-{kind}"),
        istr(f"x-ratelimit-remaining-{kind}"),
        istr(f"x-ratelimit-reset-{kind}"),
    )
    for kind in ("requests", "tokens")
)
_HEADERS: Final = tuple(name for window in _WINDOWS for name in window[1:])


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
    found: dict[str, float] = {}
    for kind, limit_name, remaining_name, reset_name in _WINDOWS:
        limit_text = headers.get(limit_name)
        remaining_text = headers.get(remaining_name)
        reset_text = headers.get(reset_name)
        if limit_text is None and remaining_text is None and reset_text is None:
            continue  # a window the server does not report: nothing to parse
        limit = _count(limit_text)
        if limit_text is not None and (limit is None or limit <= 0):
            continue
        remaining = _count(remaining_text)
        reset = parse_go_duration(reset_text)
        for name, value in (("limit", limit), ("remaining", remaining), ("reset", reset)):
            if value is not None:
                found[f"{kind}_{name}"] = value
    if not found:
        return None
    return RateLimitInfo(**found)
