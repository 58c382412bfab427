"""What an OpenAI (or OpenAI-compatible) error answer means.

The status alone misleads: a 429 is a rate limit to wait out, a request bigger than the
whole per-minute limit (never retry), or ``insufficient_quota`` (out of credit: never
retry), and the body says which. A request over the model's context window is marked
``code = "context_length_exceeded"`` (``patchwire.transforms``) when only its message says so. The wait comes from ``retry-after-ms``, then
``retry-after``, then the "Please try again in 644ms" text of the message. An explicit
``x-should-retry`` verdict is honoured, except that it never revives the two 429s that
cannot succeed.
"""

from __future__ import annotations

import re
from typing import Final

from patchwire.classification import Classification
from patchwire.classify import status_category
from patchwire.errorbody import ErrorBody, parse_error_body
from patchwire.errors import Category, PatchwireError
from patchwire.http import HttpResponse
from patchwire.retry import parse_retry_after, parse_should_retry
from patchwire.transforms.overflow import mark_context_overflow

from patchwire_openai.ratelimit import parse_go_duration

__all__ = ["classify_response", "hint_from_message", "stream_error"]

_TRY_AGAIN: Final = re.compile(r"try again in\s+([0-9.]+[a-zµμ]+(?:[0-9.]+[a-zµμ]+)*)", re.I)
_MESSAGE_LIMIT: Final = 2000
_BY_STATUS: Final = {
    400: Category.INVALID_REQUEST,
    401: Category.AUTH,
    403: Category.AUTH,
    404: Category.INVALID_REQUEST,
    408: Category.TRANSIENT,
    409: Category.TRANSIENT,  # the SDKs treat a conflict as a lock timeout and retry it
    413: Category.INVALID_REQUEST,
    422: Category.INVALID_REQUEST,
    500: Category.TRANSIENT,
    502: Category.TRANSIENT,
    503: Category.DEGRADED,  # OpenAI's "engine overloaded" and Ollama's full queue alike
    504: Category.DEGRADED,
}
# Error ``type`` values that say what happened when there is no status to go by
# (an error object inside a stream that had already answered 200).
_BY_TYPE: Final = {
    "invalid_request_error": Category.INVALID_REQUEST,
    "authentication_error": Category.AUTH,
    "permission_error": Category.AUTH,
    "not_found_error": Category.INVALID_REQUEST,
    "rate_limit_error": Category.RATE_LIMITED,
    "requests": Category.RATE_LIMITED,
    "tokens": Category.RATE_LIMITED,
    "insufficient_quota": Category.QUOTA_EXHAUSTED,
    "server_error": Category.TRANSIENT,
    "api_error": Category.TRANSIENT,
    "service_unavailable_error": Category.DEGRADED,
    "overloaded_error": Category.DEGRADED,
}


def hint_from_message(message: str) -> float | None:
    """The wait in "Please try again in 644ms." (any Go-style duration), or None."""
    found = _TRY_AGAIN.search(message)
    if found is None:
        return None
    return parse_go_duration(found.group(1).rstrip("."))


def _is_quota(body: ErrorBody | None) -> bool:
    return body is not None and "insufficient_quota" in (body.code, body.type)


def _too_large(message: str) -> bool:
    return "request too large" in message.lower()


def _category(status: int, body: ErrorBody | None, message: str) -> Category:
    if status == 429:
        if _is_quota(body):
            return Category.QUOTA_EXHAUSTED
        if _too_large(message):
            # Bigger than the whole per-minute limit: waiting cannot make it fit.
            return Category.INVALID_REQUEST
        return Category.RATE_LIMITED
    return _BY_STATUS.get(status) or status_category(status)


def classify_response(response: HttpResponse) -> Classification:
    """The classification of one error answer (status >= 400) from an OpenAI-style server."""
    body = parse_error_body(response.body)
    status = response.status
    message = body.message if body is not None and body.message else f"HTTP {status}"
    category = _category(status, body, message)
    retry_after = parse_retry_after(response.headers)
    if retry_after is None and category is Category.RATE_LIMITED:
        retry_after = hint_from_message(message)
    should_retry = parse_should_retry(response.headers)
    if status == 429 and category is not Category.RATE_LIMITED and should_retry:
        should_retry = False
    code = (body.code or body.type) if body is not None else None
    request_id = response.headers.get("x-request-id") or (
        body.request_id if body is not None else None
    )
    # OpenAI sends code context_length_exceeded itself; a compatible server (vLLM, a
    # proxy) may send only the message, which core's one rule recognises and marks.
    return mark_context_overflow(
        Classification(
            category,
            message[:_MESSAGE_LIMIT],
            retry_after=retry_after,
            should_retry=should_retry,
            status=status,
            code=code,
            request_id=request_id,
        )
    )


def stream_error(data: object, request_id: str | None) -> PatchwireError | None:
    """The error an ``{"error": {...}}`` object inside a stream reports, or None if it is not one."""
    body = parse_error_body(data) if isinstance(data, dict) else None
    if body is None:
        return None
    category = _BY_TYPE.get(body.type or "") or Category.INTEGRATION
    if _is_quota(body):
        category = Category.QUOTA_EXHAUSTED
    message = body.message or "the stream reported an error"
    return Classification(
        category,
        f"error inside the stream: {message}"[:_MESSAGE_LIMIT],
        retry_after=hint_from_message(message) if category is Category.RATE_LIMITED else None,
        code=body.code or body.type,
        request_id=request_id or body.request_id,
    ).to_error(connector=None, model=None, attempts=0)
