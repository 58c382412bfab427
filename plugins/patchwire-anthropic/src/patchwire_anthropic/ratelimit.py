"""``anthropic-ratelimit-*`` headers: limits, what remains, and RFC 3339 reset instants."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Final

from multidict import istr
from patchwire.limiter import RateLimitInfo
from patchwire.limiter.adaptive import reported_limits

__all__ = ["parse_reset", "rate_limit_info"]


def _names(family: str) -> tuple[istr, istr, istr]:
    """A family's limit, remaining and reset headers, spelled once rather than on every
    reply, as istr (which a CIMultiDict reads without folding case again)."""
    prefix = f"anthropic-ratelimit-{family}-"
    return istr(f"{prefix}limit"), istr(f"{prefix}remaining"), istr(f"{prefix}reset")


_REQUESTS: Final = _names("requests")
_TOKENS: Final = _names("tokens")
_INPUT_TOKENS: Final = _names("input-tokens")
_OUTPUT_TOKENS: Final = _names("output-tokens")
_HEADERS: Final = _REQUESTS + _TOKENS + _INPUT_TOKENS + _OUTPUT_TOKENS


def parse_reset(value: str | None, now_wall: float | None = None) -> float | None:
    """Seconds from now until an RFC 3339 instant (``2025-08-21T12:40:59Z``); None if unreadable."""
    if not value:
        return None
    return _reset(value, time.time() if now_wall is None else now_wall)


def _reset(value: str | None, now: float) -> float | None:
    """parse_reset with the wall clock read already."""
    if not value:
        return None
    instant = _INSTANTS.get(value)
    if instant is None:
        instant = _instant(value)
        if len(_INSTANTS) >= _REMEMBERED:
            _INSTANTS.clear()
        _INSTANTS[value] = instant
    if math.isnan(instant):
        return None
    return max(0.0, instant - now)


def _instant(value: str) -> float:
    """The POSIX time an RFC 3339 text names, or nan if it names none (or no time zone)."""
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return math.nan
    return math.nan if when.tzinfo is None else when.timestamp()


# Reset texts already read, and the instant each names. Anthropic writes a reset to the
# second, so replies in the same second repeat it; reading one (fromisoformat, then
# timestamp) cost ~7k instructions, twice a reply (issue 19). Emptied when full, so a
# server sending a new text on every reply cannot make it grow.
_INSTANTS: Final[dict[str, float]] = {}
_REMEMBERED: Final = 64


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number >= 0 else None


_Family = tuple[float | None, float | None, float | None]  # limit, remaining, reset


def _sum(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else a + b


def _both(input_tokens: _Family, output_tokens: _Family) -> _Family:
    """Input and output token limits as one budget: patchwire's token bucket counts both
    together, so it gets their sum, restored when the later of the two resets."""
    resets = [r for r in (input_tokens[2], output_tokens[2]) if r is not None]
    return (
        _sum(input_tokens[0], output_tokens[0]),
        _sum(input_tokens[1], output_tokens[1]),
        max(resets) if resets else None,
    )


def rate_limit_info(
    headers: Mapping[str, str], now_wall: float | None = None
) -> RateLimitInfo | None:
    """The request and token limits the headers report.

    ``tokens-*`` is the limit in effect when Anthropic sends it; otherwise the separate
    ``input-tokens-*`` and ``output-tokens-*`` limits are combined.
    """
    # A compatible server may send none of them: one look over the reply's headers (in C
    # for aiohttp's headers) instead of six or twelve look-ups (issue 19).
    if headers.keys().isdisjoint(_HEADERS):
        return None
    # the clock read once for the reply's resets, not once for each
    now = time.time() if now_wall is None else now_wall
    requests = _read(headers, _REQUESTS, now)
    tokens = _read(headers, _TOKENS, now)
    if tokens[0] is None and tokens[1] is None and tokens[2] is None:
        tokens = _both(_read(headers, _INPUT_TOKENS, now), _read(headers, _OUTPUT_TOKENS, now))
    if (
        requests[0] is None
        and requests[1] is None
        and requests[2] is None
        and tokens[0] is None
        and tokens[1] is None
        and tokens[2] is None
    ):
        return None
    return reported_limits(*requests, *tokens)


def _read(headers: Mapping[str, str], names: tuple[istr, istr, istr], now: float) -> _Family:
    limit, remaining, reset = names
    get = headers.get
    return _number(get(limit)), _number(get(remaining)), _reset(get(reset), now)
