"""google.rpc.Status bodies classified: the body decides, not the HTTP status alone."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy
from patchwire.classification import RETRYABLE
from patchwire.errors import Category
from patchwire.http import HttpResponse
from patchwire_gemini.status import STATUS_CATEGORIES, classify_response, parse_duration

RPC = "type.googleapis.com/google.rpc."


def response(status: int, body: Any, headers: dict[str, str] | None = None) -> HttpResponse:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return HttpResponse(
        status, CIMultiDictProxy(CIMultiDict(headers or {})), raw, "https://example.test/x"
    )


def status_body(code: int, name: str, message: str = "m", details: list[Any] | None = None) -> Any:
    error: dict[str, Any] = {"code": code, "message": message, "status": name}
    if details is not None:
        error["details"] = details
    return {"error": error}


def quota(quota_id: str, value: str = "2") -> dict[str, Any]:
    return {
        "@type": RPC + "QuotaFailure",
        "violations": [
            {
                "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                "quotaId": quota_id,
                "quotaDimensions": {"model": "gemini-2.5-pro", "location": "global"},
                "quotaValue": value,
            }
        ],
    }


def retry_info(delay: str) -> dict[str, Any]:
    return {"@type": RPC + "RetryInfo", "retryDelay": delay}


@pytest.mark.parametrize(
    ("http", "name", "category"),
    [
        (400, "INVALID_ARGUMENT", Category.INVALID_REQUEST),
        (400, "FAILED_PRECONDITION", Category.INVALID_REQUEST),
        (404, "NOT_FOUND", Category.INVALID_REQUEST),
        (401, "UNAUTHENTICATED", Category.AUTH),
        (403, "PERMISSION_DENIED", Category.AUTH),
        (429, "RESOURCE_EXHAUSTED", Category.RATE_LIMITED),
        (500, "INTERNAL", Category.TRANSIENT),
        (503, "UNAVAILABLE", Category.DEGRADED),
        (504, "DEADLINE_EXCEEDED", Category.DEGRADED),
    ],
)
def test_each_documented_status_has_its_category(http: int, name: str, category: Category) -> None:
    cls = classify_response(response(http, status_body(http, name, "why")))
    assert cls is not None
    assert (cls.category, cls.status, cls.code, cls.message) == (category, http, name, "why")


def test_an_invalid_key_is_auth_although_the_status_is_400() -> None:
    body = status_body(
        400,
        "INVALID_ARGUMENT",
        "API key not valid. Please pass a valid API key.",
        [
            {
                "@type": RPC + "ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            },
            {"@type": RPC + "LocalizedMessage", "locale": "en-US", "message": "API key not valid."},
        ],
    )
    cls = classify_response(response(400, body))
    assert cls is not None
    assert cls.category is Category.AUTH
    assert cls.code == "API_KEY_INVALID"
    assert not cls.retryable


def test_a_per_minute_quota_is_rate_limited_with_the_retry_delay() -> None:
    body = status_body(
        429,
        "RESOURCE_EXHAUSTED",
        "You exceeded your current quota.",
        [
            quota("GenerateRequestsPerMinutePerProjectPerModel-FreeTier"),
            {"@type": RPC + "Help", "links": [{"description": "d", "url": "https://x"}]},
            retry_info("46s"),
        ],
    )
    cls = classify_response(response(429, body))
    assert cls is not None
    assert cls.category is Category.RATE_LIMITED
    assert cls.retry_after == 46.0
    assert cls.retryable


def test_a_per_day_quota_is_exhausted_and_not_retried() -> None:
    body = status_body(
        429,
        "RESOURCE_EXHAUSTED",
        "You exceeded your current quota.",
        [quota("GenerateRequestsPerDayPerProjectPerModel-FreeTier", "50"), retry_info("13s")],
    )
    cls = classify_response(response(429, body))
    assert cls is not None
    assert cls.category is Category.QUOTA_EXHAUSTED
    assert "GenerateRequestsPerDayPerProjectPerModel-FreeTier" in cls.message
    assert not cls.retryable


def test_a_zero_quota_never_resets() -> None:
    body = status_body(
        429, "RESOURCE_EXHAUSTED", "limit: 0", [quota("InputTokensPerModelPerMinute", "0")]
    )
    cls = classify_response(response(429, body))
    assert cls is not None and cls.category is Category.QUOTA_EXHAUSTED


def test_a_retry_after_header_wins_over_the_body_hint() -> None:
    body = status_body(429, "RESOURCE_EXHAUSTED", "slow down", [retry_info("30s")])
    cls = classify_response(response(429, body, {"Retry-After": "2"}))
    assert cls is not None and cls.retry_after == 2.0


def test_an_unknown_status_name_falls_back_to_the_http_status() -> None:
    cls = classify_response(response(502, {"error": {"code": 502, "message": "bad gateway"}}))
    assert cls is not None and cls.category is Category.TRANSIENT
    cls = classify_response(response(429, {"error": {"code": 429, "message": "busy"}}))
    assert cls is not None and cls.category is Category.RATE_LIMITED


def test_a_body_that_is_not_a_status_is_left_to_core() -> None:
    assert classify_response(response(502, b"<html>Bad Gateway</html>")) is None


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10**6), st.integers(0, 999_999_999), st.integers(1, 9))
def test_duration_round_trip(seconds: int, nanos: int, digits: int) -> None:
    """Invariant: a protobuf Duration "S.Fs" parses to S + F within a nanosecond, never negative."""
    fraction = str(nanos).zfill(9)[:digits]
    parsed = parse_duration(f"{seconds}.{fraction}s")
    assert parsed is not None
    assert parsed == pytest.approx(seconds + int(fraction) / 10**digits, abs=1e-9)
    assert parse_duration(f"{seconds}s") == seconds
    assert parse_duration(f"-{seconds}s") == 0.0


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=20), st.integers(), st.none(), st.floats()))
def test_duration_parser_never_raises(value: Any) -> None:
    """Invariant: any value parses to None or a finite delay >= 0."""
    parsed = parse_duration(value)
    assert parsed is None or parsed >= 0.0


detail = st.one_of(
    st.builds(quota, st.sampled_from(["RequestsPerMinute", "TokensPerDay", "X"]), st.just("5")),
    st.builds(retry_info, st.sampled_from(["1s", "0.5s", "bogus", "46s"])),
    st.fixed_dictionaries(
        {
            "@type": st.just(RPC + "ErrorInfo"),
            "reason": st.sampled_from(["API_KEY_INVALID", "RATE_LIMIT_EXCEEDED", "OTHER"]),
        }
    ),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([400, 401, 403, 404, 429, 500, 503, 504]),
    st.sampled_from([*STATUS_CATEGORIES, "", "SOMETHING_NEW"]),
    st.lists(detail, max_size=4),
)
def test_any_status_body_is_classified_by_its_body(
    http: int, name: str, details: list[Any]
) -> None:
    """Invariants for any Status body: it is classified (never None, never raises); an
    API_KEY_ ErrorInfo reason is auth; a per-day quota violation is quota_exhausted and not
    retryable; otherwise RESOURCE_EXHAUSTED is rate_limited; and the hint, when there is one,
    is the first readable RetryInfo delay."""
    cls = classify_response(response(http, status_body(http, name, "m", details)))
    assert cls is not None
    reasons = [d.get("reason") for d in details if d.get("@type") == RPC + "ErrorInfo"]
    per_day = any("PerDay" in v["quotaId"] for d in details for v in d.get("violations", ()) if d)
    if reasons and str(reasons[0]).startswith("API_KEY_"):
        assert cls.category is Category.AUTH
    elif name == "RESOURCE_EXHAUSTED" or (name in ("", "SOMETHING_NEW") and http == 429):
        expected = Category.QUOTA_EXHAUSTED if per_day else Category.RATE_LIMITED
        assert (cls.category is expected) and (cls.retryable is (expected in RETRYABLE))
    elif name in STATUS_CATEGORIES:
        assert cls.category is STATUS_CATEGORIES[name]
    delays = [
        parse_duration(d["retryDelay"])
        for d in details
        if d.get("@type") == RPC + "RetryInfo" and parse_duration(d["retryDelay"]) is not None
    ]
    assert cls.retry_after == (delays[0] if delays else None)
