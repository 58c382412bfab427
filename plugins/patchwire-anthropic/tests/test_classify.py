"""Anthropic's error types, 529, retry hints, request ids and rate-limit headers."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy
from patchwire.errors import Category, DegradedError
from patchwire.http import HttpResponse
from patchwire_anthropic.classify import classify_response, stream_error
from patchwire_anthropic.ratelimit import parse_reset, rate_limit_info


def answer(status: int, kind: str | None, headers: dict[str, str] | None = None) -> HttpResponse:
    body = {
        "type": "error",
        "error": {"type": kind, "message": f"{kind} happened"},
        "request_id": "req_body",
    }
    return HttpResponse(
        status, CIMultiDictProxy(CIMultiDict(headers or {})), json.dumps(body).encode(), "u"
    )


@pytest.mark.parametrize(
    ("status", "kind", "category"),
    [
        (400, "invalid_request_error", Category.INVALID_REQUEST),
        (401, "authentication_error", Category.AUTH),
        (402, "billing_error", Category.QUOTA_EXHAUSTED),
        (403, "permission_error", Category.AUTH),
        (404, "not_found_error", Category.INVALID_REQUEST),
        (413, "request_too_large", Category.INVALID_REQUEST),
        (429, "rate_limit_error", Category.RATE_LIMITED),
        (500, "api_error", Category.TRANSIENT),
        (504, "timeout_error", Category.DEGRADED),
        (529, "overloaded_error", Category.DEGRADED),
        (529, None, Category.DEGRADED),
        (503, None, Category.DEGRADED),
    ],
)
def test_every_documented_error_type_has_its_category(
    status: int, kind: str | None, category: Category
) -> None:
    cls = classify_response(answer(status, kind, {"request-id": "req_header"}))
    assert cls.category is category and cls.status == status
    assert cls.request_id == "req_header" and cls.code == kind


def test_retry_after_and_body_request_id() -> None:
    cls = classify_response(answer(429, "rate_limit_error", {"retry-after": "7"}))
    assert cls.retry_after == 7 and cls.request_id == "req_body" and cls.retryable


def test_error_event_after_200_is_classified() -> None:
    error = stream_error(
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, "req_1"
    )
    assert (
        isinstance(error, DegradedError)
        and error.request_id == "req_1"
        and "Overloaded" in error.message
    )


@settings(max_examples=200)
@given(seconds=st.integers(0, 10**6))
def test_reset_instants_read_back_as_seconds_from_now(seconds: int) -> None:
    """Invariant: an RFC 3339 instant ``now + s`` reads as ``s`` seconds (never negative)."""
    from datetime import UTC, datetime

    now = 1_790_000_000.0
    text = datetime.fromtimestamp(now + seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert parse_reset(text, now) == pytest.approx(seconds)
    assert parse_reset("not a time", now) is None and parse_reset(text, now + seconds + 5) == 0


def test_rate_limit_headers_become_limiter_information() -> None:
    headers = CIMultiDict(
        {
            "anthropic-ratelimit-requests-limit": "50",
            "anthropic-ratelimit-requests-remaining": "49",
            "anthropic-ratelimit-requests-reset": "2030-01-01T00:00:01Z",
            "anthropic-ratelimit-input-tokens-limit": "40000",
            "anthropic-ratelimit-input-tokens-remaining": "39000",
            "anthropic-ratelimit-input-tokens-reset": "2030-01-01T00:00:30Z",
        }
    )
    from datetime import UTC, datetime

    now = datetime(2030, 1, 1, tzinfo=UTC).timestamp()
    info = rate_limit_info(headers, now)
    assert info is not None
    assert (info.requests_limit, info.requests_remaining, info.requests_reset) == (50, 49, 1)
    assert (info.tokens_limit, info.tokens_remaining, info.tokens_reset) == (40000, 39000, 30)
    assert rate_limit_info(CIMultiDict(), now) is None


def test_separate_input_and_output_token_limits_are_one_budget() -> None:
    """Without a combined ``tokens-*`` family, the input and output limits add up and the
    budget is restored when the later of the two resets."""
    from datetime import UTC, datetime

    headers = CIMultiDict(
        {
            "anthropic-ratelimit-input-tokens-limit": "40000",
            "anthropic-ratelimit-input-tokens-remaining": "30000",
            "anthropic-ratelimit-input-tokens-reset": "2030-01-01T00:00:10Z",
            "anthropic-ratelimit-output-tokens-limit": "8000",
            "anthropic-ratelimit-output-tokens-remaining": "6000",
            "anthropic-ratelimit-output-tokens-reset": "2030-01-01T00:00:40Z",
        }
    )
    now = datetime(2030, 1, 1, tzinfo=UTC).timestamp()
    info = rate_limit_info(headers, now)
    assert info is not None and info.requests_limit is None
    assert (info.tokens_limit, info.tokens_remaining, info.tokens_reset) == (48000, 36000, 40)
    headers["anthropic-ratelimit-tokens-limit"] = "20000"
    combined = rate_limit_info(headers, now)
    assert combined is not None and combined.tokens_limit == 20000
