"""``anthropic-ratelimit-*`` headers: limits, what remains, and RFC 3339 reset instants."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime

from patchwire.limiter import RateLimitInfo

__all__ = ["parse_reset", "rate_limit_info"]

_PREFIX = "anthropic-ratelimit-"


def parse_reset(value: str | None, now_wall: float | None = None) -> float | None:
    """Seconds from now until an RFC 3339 instant (``2025-08-21T12:40:59Z``); None if unreadable."""
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    now = time.time() if now_wall is None else now_wall
    return max(0.0, when.timestamp() - now)


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

    def read(family: str) -> _Family:
        return (
            _number(headers.get(f"{_PREFIX}{family}-limit")),
            _number(headers.get(f"{_PREFIX}{family}-remaining")),
            parse_reset(headers.get(f"{_PREFIX}{family}-reset"), now_wall),
        )

    requests = read("requests")
    tokens = read("tokens")
    if all(v is None for v in tokens):
        tokens = _both(read("input-tokens"), read("output-tokens"))
    if all(v is None for v in requests + tokens):
        return None
    return RateLimitInfo(
        requests_limit=requests[0],
        requests_remaining=requests[1],
        requests_reset=requests[2],
        tokens_limit=tokens[0],
        tokens_remaining=tokens[1],
        tokens_reset=tokens[2],
    )
