"""Anthropic's errors by their ``error.type`` (WIRE.md §2.3), which says more than the status.

The same mapping serves error bodies and the ``event: error`` frames a stream may send
after HTTP 200.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from patchwire.classification import Classification
from patchwire.classify import status_category
from patchwire.errorbody import parse_error_body
from patchwire.errors import Category, PatchwireError, error_class
from patchwire.http import HttpResponse
from patchwire.retry import parse_retry_after, parse_should_retry
from patchwire.transforms.overflow import mark_context_overflow

__all__ = ["TYPES", "classify_response", "stream_error"]

TYPES: Final[Mapping[str, Category]] = {
    "invalid_request_error": Category.INVALID_REQUEST,
    "authentication_error": Category.AUTH,
    "permission_error": Category.AUTH,
    "billing_error": Category.QUOTA_EXHAUSTED,
    "not_found_error": Category.INVALID_REQUEST,
    "request_too_large": Category.INVALID_REQUEST,
    "rate_limit_error": Category.RATE_LIMITED,
    "api_error": Category.TRANSIENT,
    "timeout_error": Category.DEGRADED,
    "overloaded_error": Category.DEGRADED,
}


def classify_response(response: HttpResponse) -> Classification:
    body = parse_error_body(response.body)
    kind = body.type if body is not None else None
    category = TYPES.get(kind or "") or (
        Category.DEGRADED if response.status == 529 else status_category(response.status)
    )
    # "prompt is too long: N tokens > M maximum" comes as a plain invalid_request_error:
    # core's one rule marks it context_length_exceeded (the type moves to details).
    return mark_context_overflow(
        Classification(
            category,
            (body.message if body is not None and body.message else f"HTTP {response.status}")[
                :2000
            ],
            retry_after=parse_retry_after(response.headers),
            should_retry=parse_should_retry(response.headers),
            status=response.status,
            code=kind,
            request_id=response.headers.get("request-id") or (body.request_id if body else None),
        )
    )


def stream_error(data: Any, request_id: str | None) -> PatchwireError:
    """The error an ``event: error`` frame carries, as the category its type names."""
    error = data.get("error") if isinstance(data, Mapping) else None
    kind = error.get("type") if isinstance(error, Mapping) else None
    message = error.get("message") if isinstance(error, Mapping) else None
    category = TYPES.get(kind if isinstance(kind, str) else "", Category.TRANSIENT)
    return error_class(category)(
        f"the stream sent an error event: {message or kind or 'unknown'}",
        code=kind if isinstance(kind, str) else None,
        request_id=request_id,
    )
