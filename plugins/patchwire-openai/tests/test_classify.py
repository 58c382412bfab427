"""What an OpenAI-style error answer means: the body decides, not the status alone."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy
from patchwire.errors import Category
from patchwire.http import HttpResponse, HttpStatusError
from patchwire.testing.fake import FakeConnector
from patchwire_openai.classify import classify_response, hint_from_message, stream_error
from patchwire_openai.connector import OpenAIConnector
from patchwire_openai.plugin import OpenAIPlugin


def response(status: int, body: Any, **headers: str) -> HttpResponse:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    multi = CIMultiDict({k.replace("_", "-"): v for k, v in headers.items()})
    return HttpResponse(status, CIMultiDictProxy(multi), raw, "http://sim/v1/chat/completions")


def nested(message: str, type_: str, code: Any = None, param: Any = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


RATE = nested(
    "Rate limit reached for gpt-4o in organization org-x on tokens per min (TPM): Limit 30000,"
    " Used 29000, Requested 1500. Please try again in 644ms. Visit https://...",
    "tokens",
    "rate_limit_exceeded",
)
TOO_LARGE = nested(
    "Request too large for gpt-4o in organization org-x on tokens per min (TPM): Limit 30000,"
    " Requested 45000. The input or output tokens must be reduced in order to run successfully.",
    "tokens",
    "rate_limit_exceeded",
)
QUOTA = nested(
    "You exceeded your current quota, please check your plan and billing details.",
    "insufficient_quota",
    "insufficient_quota",
)


@pytest.mark.parametrize(
    ("status", "body", "category", "code"),
    [
        (
            400,
            nested("bad", "invalid_request_error", "context_length_exceeded"),
            "invalid_request",
            "context_length_exceeded",
        ),
        (
            401,
            nested("Incorrect API key", "invalid_request_error", "invalid_api_key"),
            "auth",
            "invalid_api_key",
        ),
        (401, {"error": "Unauthorized"}, "auth", None),  # vLLM with --api-key
        (
            403,
            nested(
                "Country not supported",
                "invalid_request_error",
                "unsupported_country_region_territory",
            ),
            "auth",
            "unsupported_country_region_territory",
        ),
        (
            404,
            nested('model "x" not found, try pulling it first', "not_found_error"),
            "invalid_request",
            "not_found_error",
        ),
        (
            404,
            nested("The model `x` does not exist", "invalid_request_error", "model_not_found"),
            "invalid_request",
            "model_not_found",
        ),
        (
            422,
            {
                "object": "error",
                "message": "bad field",
                "type": "UnprocessableEntityError",
                "param": None,
                "code": 422,
            },
            "invalid_request",
            "422",
        ),
        (
            400,
            nested("too long", "BadRequestError", 400),
            "invalid_request",
            "400",
        ),  # vLLM >= 0.10.1
        (409, nested("conflict", "invalid_request_error"), "transient", "invalid_request_error"),
        (500, nested("The server had an error", "server_error"), "transient", "server_error"),
        (502, b"<html>Bad gateway</html>", "transient", None),
        (
            503,
            nested("The engine is currently overloaded", "server_error"),
            "degraded",
            "server_error",
        ),
        (
            503,
            nested(
                "server busy, please try again.  maximum pending requests exceeded", "api_error"
            ),
            "degraded",
            "api_error",
        ),  # Ollama
        (504, b"", "degraded", None),
        (429, RATE, "rate_limited", "rate_limit_exceeded"),
        (429, TOO_LARGE, "invalid_request", "rate_limit_exceeded"),
        (429, QUOTA, "quota_exhausted", "insufficient_quota"),
        (
            429,
            {
                "error": {
                    "message": "out of credit",
                    "type": "insufficient_quota",
                    "param": None,
                    "code": None,
                }
            },
            "quota_exhausted",
            "insufficient_quota",
        ),
    ],
)
def test_status_and_body_give_the_category(
    status: int, body: Any, category: str, code: str | None
) -> None:
    got = classify_response(response(status, body))
    assert got.category.value == category
    assert got.code == code
    assert got.status == status


def test_rate_limit_wait_comes_from_headers_in_order_then_the_message() -> None:
    assert (
        classify_response(response(429, RATE, retry_after_ms="1500", retry_after="9")).retry_after
        == 1.5
    )
    assert classify_response(response(429, RATE, retry_after="2")).retry_after == 2.0
    assert (
        classify_response(
            response(429, RATE, retry_after="Wed, 21 Oct 2015 07:28:00 GMT")
        ).retry_after
        == 0.0
    )
    assert classify_response(response(429, RATE)).retry_after == pytest.approx(0.644)


def test_429s_that_cannot_succeed_are_never_retried_whatever_the_header_says() -> None:
    for body in (TOO_LARGE, QUOTA):
        got = classify_response(response(429, body, x_should_retry="true"))
        assert not got.retryable
    assert classify_response(response(429, RATE, x_should_retry="true")).retryable


def test_x_should_retry_is_honoured() -> None:
    assert not classify_response(
        response(500, nested("e", "server_error"), x_should_retry="false")
    ).retryable
    assert classify_response(
        response(400, nested("e", "invalid_request_error"), x_should_retry="true")
    ).retryable


def test_request_id_from_header_or_body() -> None:
    assert classify_response(response(500, {}, x_request_id="req_abc")).request_id == "req_abc"
    assert (
        classify_response(response(500, {"error": "x", "request_id": "req_b"})).request_id
        == "req_b"
    )


@pytest.mark.parametrize(
    ("message", "seconds"),
    [
        ("Please try again in 644ms.", 0.644),
        ("Please try again in 1.5s. Visit https://x", 1.5),
        ("Please try again in 6m0s.", 360.0),
        ("please TRY AGAIN IN 20s", 20.0),
        ("Rate limit reached.", None),
    ],
)
def test_hint_from_the_message_text(message: str, seconds: float | None) -> None:
    assert hint_from_message(message) == (pytest.approx(seconds) if seconds else None)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(400, 599),
    st.one_of(
        st.binary(max_size=40),
        st.builds(
            lambda m, t, c: json.dumps(nested(m, t, c)).encode(),
            st.text(max_size=30),
            st.text(max_size=15),
            st.one_of(st.none(), st.text(max_size=10), st.integers()),
        ),
    ),
)
def test_any_error_answer_is_classified_without_raising(status: int, body: bytes) -> None:
    """Invariant: every error answer gets a category; 401/403 are always auth, 5xx never a caller error."""
    got = classify_response(response(status, body))
    assert got.status == status and len(got.message) <= 2000
    if status in (401, 403):
        assert got.category is Category.AUTH
    if status >= 500:
        assert got.category in (Category.TRANSIENT, Category.DEGRADED)


def test_the_hook_answers_only_for_openai_connectors_and_http_answers() -> None:
    plugin = OpenAIPlugin()
    failed = response(429, QUOTA)
    ours = object.__new__(OpenAIConnector)
    theirs = object.__new__(FakeConnector)
    got = plugin.patchwire_classify_error(ours, HttpStatusError(failed), failed)
    assert got is not None and got.category is Category.QUOTA_EXHAUSTED
    assert plugin.patchwire_classify_error(theirs, HttpStatusError(failed), failed) is None
    assert plugin.patchwire_classify_error(ours, ConnectionResetError(), None) is None


def test_an_error_object_inside_a_stream_becomes_a_classified_error() -> None:
    error = stream_error(nested("The server had an error", "server_error"), "req_1")
    assert error is not None and error.category is Category.TRANSIENT
    assert error.request_id == "req_1" and "inside the stream" in error.message
    quota = stream_error(QUOTA, None)
    assert quota is not None and quota.category is Category.QUOTA_EXHAUSTED
    assert stream_error({"choices": []}, None) is None
