"""What a Gemini error means: ``google.rpc.Status`` bodies turned into classifications.

Google's errors say more in their body than in their HTTP status: a 400 can be a bad
key (``ErrorInfo.reason`` ``API_KEY_INVALID``), a 429 can be a per-minute limit that clears
in seconds or a per-day quota that does not, and the wait comes as ``RetryInfo.retryDelay``
(a protobuf Duration such as ``"46s"``) rather than a ``Retry-After`` header.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

from patchwire.classification import Classification
from patchwire.classify import status_category
from patchwire.errorbody import ErrorBody, parse_error_body
from patchwire.errors import Category
from patchwire.http import HttpResponse
from patchwire.retry import parse_retry_after, parse_should_retry
from patchwire.transforms.overflow import mark_context_overflow

__all__ = [
    "STATUS_CATEGORIES",
    "classify_error_body",
    "classify_response",
    "parse_duration",
]

_TYPE_PREFIX: Final = "type.googleapis.com/google.rpc."

#: google.rpc.Code names by what a retry can do about them.
STATUS_CATEGORIES: Final[Mapping[str, Category]] = {
    "INVALID_ARGUMENT": Category.INVALID_REQUEST,
    "FAILED_PRECONDITION": Category.INVALID_REQUEST,
    "OUT_OF_RANGE": Category.INVALID_REQUEST,
    "NOT_FOUND": Category.INVALID_REQUEST,
    "ALREADY_EXISTS": Category.INVALID_REQUEST,
    "UNIMPLEMENTED": Category.INVALID_REQUEST,
    "UNAUTHENTICATED": Category.AUTH,
    "PERMISSION_DENIED": Category.AUTH,
    "RESOURCE_EXHAUSTED": Category.RATE_LIMITED,
    "INTERNAL": Category.TRANSIENT,
    "UNKNOWN": Category.TRANSIENT,
    "DATA_LOSS": Category.TRANSIENT,
    "ABORTED": Category.TRANSIENT,
    "CANCELLED": Category.TRANSIENT,
    # Gemini answers UNAVAILABLE when the model is overloaded ("The model is overloaded.
    # Please try again later."): a capacity problem that can last minutes, so a route moves
    # on to its next provider at once, as it does for Anthropic's 529 and OpenAI's 503,
    # and a lone target still retries it with backoff.
    "UNAVAILABLE": Category.DEGRADED,
    "DEADLINE_EXCEEDED": Category.DEGRADED,
}

# ErrorInfo reasons that blame the credential even when the status says INVALID_ARGUMENT.
_AUTH_REASON_PREFIXES: Final = ("API_KEY_", "ACCESS_TOKEN_")
_AUTH_REASONS: Final = frozenset({"CREDENTIALS_MISSING", "SERVICE_DISABLED"})

# protobuf's JSON form of a Duration: seconds with up to nine fractional digits, then "s".
_DURATION: Final = re.compile(r"\s*(-?)(\d+)(?:\.(\d{1,9}))?s\s*")


def parse_duration(text: object) -> float | None:
    """Seconds in a protobuf JSON Duration (``"46s"``, ``"0.250s"``), or None if it is not one.

    A negative duration is a wait of 0.
    """
    if not isinstance(text, str):
        return None
    match = _DURATION.fullmatch(text)
    if match is None:
        return None
    sign, whole, fraction = match.groups()
    seconds = int(whole) + (int(fraction) / 10 ** len(fraction) if fraction else 0.0)
    return 0.0 if sign else seconds


def _details(body: ErrorBody, kind: str) -> Iterator[Mapping[str, Any]]:
    for detail in body.details:
        if detail.get("@type") == _TYPE_PREFIX + kind:
            yield detail


def _reason(body: ErrorBody) -> str | None:
    for info in _details(body, "ErrorInfo"):
        reason = info.get("reason")
        if isinstance(reason, str) and reason:
            return reason
    return None


def _retry_delay(body: ErrorBody) -> float | None:
    for info in _details(body, "RetryInfo"):
        delay = parse_duration(info.get("retryDelay"))
        if delay is not None:
            return delay
    return None


def _violations(body: ErrorBody) -> Iterator[Mapping[str, Any]]:
    for failure in _details(body, "QuotaFailure"):
        violations = failure.get("violations")
        if isinstance(violations, Sequence):
            for violation in violations:
                if isinstance(violation, Mapping):
                    yield violation


def _exhausted_quota(body: ErrorBody) -> str | None:
    """The quota id of a violation that will not clear within a call, if any.

    A per-day quota resets at midnight Pacific time, and a quota whose value is 0 (a model
    the project's tier does not include) never resets: waiting seconds helps neither.
    """
    for violation in _violations(body):
        quota_id = str(violation.get("quotaId") or "")
        if "PerDay" in quota_id or str(violation.get("quotaValue", "")).strip() == "0":
            return quota_id or str(violation.get("quotaMetric") or "quota")
    return None


def _category(status: int, body: ErrorBody) -> tuple[Category, str | None]:
    reason = _reason(body)
    if reason is not None and (reason.startswith(_AUTH_REASON_PREFIXES) or reason in _AUTH_REASONS):
        return Category.AUTH, None
    name = (body.status or "").upper()
    if name == "RESOURCE_EXHAUSTED" or (name not in STATUS_CATEGORIES and status == 429):
        exhausted = _exhausted_quota(body)
        if exhausted is not None:
            return Category.QUOTA_EXHAUSTED, exhausted
        return Category.RATE_LIMITED, None
    category = STATUS_CATEGORIES.get(name)
    if category is None:
        category = status_category(status)
    return category, None


def classify_error_body(
    status: int, body: ErrorBody, headers: Mapping[str, str] | None = None
) -> Classification:
    """Classify a parsed ``google.rpc.Status`` that came with HTTP ``status`` (200 mid-stream)."""
    headers = headers or {}
    category, quota = _category(status, body)
    message = body.message or f"HTTP {status}"
    if quota is not None:
        message = f"{message} (quota {quota} will not reset within this call)"
    hint = parse_retry_after(headers)
    if hint is None:
        hint = _retry_delay(body)
    code = _reason(body) or body.status
    if not code and body.code and not body.code.isdigit():
        code = body.code
    # "The input token count (N) exceeds the maximum number of tokens allowed (M)." comes
    # as a plain INVALID_ARGUMENT: core's one rule marks it context_length_exceeded (the
    # status moves to details).
    return mark_context_overflow(
        Classification(
            category=category,
            message=message[:2000],
            retry_after=hint,
            should_retry=parse_should_retry(headers),
            status=status,
            code=code,
            request_id=headers.get("x-request-id"),
        )
    )


def classify_response(response: HttpResponse) -> Classification | None:
    """The classification of an HTTP error response, or None when its body is not a Status."""
    body = parse_error_body(response.body)
    if body is None:
        return None
    return classify_error_body(response.status, body, response.headers)
