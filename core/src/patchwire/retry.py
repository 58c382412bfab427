"""When to try a failed attempt again, and how long to wait first.

:class:`RetryPolicy` is a pure function of (attempt, classification, random draw, time
left): the caller supplies the draw, so a schedule can be replayed exactly and its
properties proven without sleeping. The header helpers turn a provider's ``Retry-After``
family and ``x-should-retry`` into the hint and verdict a :class:`Classification` carries.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Final, Literal

import attrs

from patchwire.classification import Classification

__all__ = [
    "RetryDecision",
    "RetryPolicy",
    "RetryReason",
    "parse_retry_after",
    "parse_should_retry",
]

RetryReason = Literal[
    "retry", "permanent", "exhausted", "server_said_no", "hint_too_long", "deadline"
]

# Signed decimal only: ``float()`` would also take "nan", "inf" and "1_000", none of which
# is a delay a server meant.
_NUMBER: Final = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")


def _at_least_one(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        raise ValueError(f"{attribute.name} must be >= 1, got {value}")


def _finite_non_negative(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{attribute.name} must be a finite number >= 0, got {value}")


def _optional_non_negative(
    _: object, attribute: attrs.Attribute[float | None], value: float | None
) -> None:
    if value is not None and not value >= 0:
        raise ValueError(f"{attribute.name} must be >= 0 or None, got {value}")


@attrs.frozen(slots=True)
class RetryDecision:
    """The verdict on one failed attempt.

    ``delay`` is the wait before the next attempt; it is 0 when not retrying, except for
    reason ``"deadline"``, where it is the wait that would have been needed (the pipeline
    reports it as the error's ``retry_after``).
    """

    retry: bool
    delay: float
    reason: RetryReason


_PERMANENT: Final = RetryDecision(False, 0.0, "permanent")
_EXHAUSTED: Final = RetryDecision(False, 0.0, "exhausted")
_SERVER_SAID_NO: Final = RetryDecision(False, 0.0, "server_said_no")
_HINT_TOO_LONG: Final = RetryDecision(False, 0.0, "hint_too_long")


@attrs.frozen(slots=True)
class RetryPolicy:
    """Exponential backoff with jitter, bounded by attempts, server hints and the deadline.

    ``max_attempts`` counts the first call. ``max_hint`` is the longest server hint worth
    waiting for (the OpenAI SDK gives up above 120 s); a longer hint means no retry.
    """

    max_attempts: int = attrs.field(default=4, validator=_at_least_one)
    initial: float = attrs.field(default=1.0, validator=_finite_non_negative)
    cap: float = attrs.field(default=30.0, validator=_finite_non_negative)
    jitter: Literal["full", "decorrelated"] = attrs.field(
        default="full", validator=attrs.validators.in_(("full", "decorrelated"))
    )
    max_hint: float | None = attrs.field(default=None, validator=_optional_non_negative)

    def decide(
        self,
        attempt: int,
        classification: Classification,
        draw: float,
        time_left: float | None,
        previous_delay: float | None = None,
    ) -> RetryDecision:
        """Whether to retry after ``attempt`` attempts have been made, and after what wait.

        ``draw`` is uniform in [0, 1); ``time_left`` is the seconds until the call's
        deadline (None: no deadline); ``previous_delay`` feeds decorrelated jitter.
        """
        if classification.should_retry is False:
            return _SERVER_SAID_NO
        if not classification.retryable:
            return _PERMANENT
        if attempt >= self.max_attempts:
            return _EXHAUSTED
        delay = self.backoff(attempt, draw, previous_delay)
        hint = classification.retry_after
        if hint is not None and not math.isnan(hint):
            # A server that asks for an endless wait is saying "not in this call".
            if math.isinf(hint) or (self.max_hint is not None and hint > self.max_hint):
                return _HINT_TOO_LONG
            delay = max(delay, hint)
        if time_left is not None and delay >= time_left:
            return RetryDecision(False, delay, "deadline")
        return RetryDecision(True, delay, "retry")

    def backoff(self, attempt: int, draw: float, previous_delay: float | None = None) -> float:
        """The jittered wait after ``attempt`` attempts, before any server hint; in [0, cap]."""
        if attempt < 1:
            raise ValueError(
                f"attempt counts attempts already made and must be >= 1, got {attempt}"
            )
        if not 0.0 <= draw <= 1.0:
            raise ValueError(f"draw must be uniform in [0, 1), got {draw}")
        if self.jitter == "decorrelated":
            previous = self.initial if previous_delay is None else previous_delay
            # A previous wait stretched by a server hint must not blow up the next one.
            upper = 3.0 * min(max(previous, 0.0), self.cap)
            return min(self.cap, self.initial + draw * (upper - self.initial))
        return draw * self._ceiling(attempt)

    def _ceiling(self, attempt: int) -> float:
        """``min(cap, initial * 2**(attempt-1))`` for any attempt, without overflow."""
        if self.initial == 0.0 or self.cap == 0.0:
            return 0.0
        doublings = attempt - 1
        # Past this many doublings the cap wins, so a huge exponent is never formed.
        if doublings >= math.log2(self.cap) - math.log2(self.initial):
            return self.cap
        return min(self.cap, math.ldexp(self.initial, doublings))


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    for key, candidate in headers.items():
        if key.lower() == name:
            return candidate
    return None


def _seconds(text: str) -> float | None:
    text = text.strip()
    if _NUMBER.fullmatch(text) is None:
        return None
    return max(0.0, float(text))


def _http_date_delay(text: str, now_wall: float) -> float | None:
    try:
        when = parsedate_to_datetime(text.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        # RFC 9110 dates are always GMT; "-0000" parses as naive.
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now_wall)


def parse_retry_after(headers: Mapping[str, str], now_wall: float | None = None) -> float | None:
    """The server's requested wait in seconds, or None if it gave none we can read.

    Reads, in order, ``retry-after-ms``, then ``retry-after`` as seconds, then as an HTTP
    date measured from ``now_wall`` (default: ``time.time()``). Names are matched
    case-insensitively whatever the mapping; a negative wait is 0.
    """
    millis = _header(headers, "retry-after-ms")
    if millis is not None:
        value = _seconds(millis)
        if value is not None:
            return value / 1000.0
    text = _header(headers, "retry-after")
    if text is None:
        return None
    value = _seconds(text)
    if value is not None:
        return value
    return _http_date_delay(text, time.time() if now_wall is None else now_wall)


def parse_should_retry(headers: Mapping[str, str]) -> bool | None:
    """The server's explicit verdict from ``x-should-retry``, or None if absent or unreadable."""
    value = _header(headers, "x-should-retry")
    if value is None:
        return None
    verdict = value.strip().lower()
    if verdict == "true":
        return True
    if verdict == "false":
        return False
    return None
