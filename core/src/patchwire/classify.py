"""Core's default classification: what a failure means when no plugin knows better.

It answers last (plugins that read their provider's body answer first) from the HTTP
status and the generic headers (``retry-after-ms``, ``retry-after``, ``x-should-retry``,
request ids), or from the exception type for transport failures.
"""

from __future__ import annotations

import asyncio
import json
import ssl

import aiohttp

from patchwire.classification import Classification
from patchwire.errorbody import parse_error_body
from patchwire.errors import Category, PatchwireError
from patchwire.http import HttpResponse, HttpStatusError
from patchwire.retry import parse_retry_after, parse_should_retry

__all__ = ["classify_exception", "classify_response", "status_category"]

_REQUEST_ID_HEADERS = ("x-request-id", "request-id")


def status_category(status: int) -> Category:
    if status in (401, 403, 407):
        return Category.AUTH
    if status == 402:
        return Category.QUOTA_EXHAUSTED
    if status in (408, 409, 425):
        return Category.TRANSIENT
    if status == 429:
        return Category.RATE_LIMITED
    if status in (503, 504, 529):
        return Category.DEGRADED
    if status >= 500:
        return Category.TRANSIENT
    return Category.INVALID_REQUEST


def request_id(response: HttpResponse) -> str | None:
    for name in _REQUEST_ID_HEADERS:
        value = response.headers.get(name)
        if value:
            return value
    return None


def classify_response(response: HttpResponse) -> Classification:
    body = parse_error_body(response.body)
    message = body.message if body is not None and body.message else f"HTTP {response.status}"
    return Classification(
        category=status_category(response.status),
        message=message[:2000],
        retry_after=parse_retry_after(response.headers),
        should_retry=parse_should_retry(response.headers),
        status=response.status,
        code=(body.code or body.type or body.status) if body is not None else None,
        request_id=request_id(response) or (body.request_id if body is not None else None),
    )


def classify_exception(error: BaseException) -> Classification:
    if isinstance(error, PatchwireError):
        return Classification.of(error)
    if isinstance(error, HttpStatusError):
        return classify_response(error.response)
    if isinstance(error, TimeoutError | asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return Classification(Category.DEGRADED, "timed out")
    if isinstance(error, aiohttp.ClientConnectorCertificateError | ssl.SSLError) or (
        isinstance(error, aiohttp.ClientConnectorError) and isinstance(error.os_error, ssl.SSLError)
    ):
        # A rejected or wrong certificate will not get better by retrying.
        return Classification(Category.AUTH, f"TLS handshake failed: {error}")
    if isinstance(error, aiohttp.ClientResponseError):
        return Classification(
            status_category(error.status),
            error.message or f"HTTP {error.status}",
            status=error.status,
        )
    if isinstance(
        error,
        aiohttp.ServerDisconnectedError
        | aiohttp.ClientPayloadError
        | aiohttp.ClientConnectionError
        | ConnectionError
        | aiohttp.ClientOSError,
    ):
        return Classification(
            Category.TRANSIENT, f"connection failed: {type(error).__name__}: {error}"
        )
    if isinstance(error, json.JSONDecodeError | UnicodeDecodeError):
        return Classification(Category.INTEGRATION, f"malformed response: {error}")
    if isinstance(error, OSError):
        return Classification(Category.TRANSIENT, f"{type(error).__name__}: {error}")
    return Classification(
        Category.INTEGRATION, f"unexpected {type(error).__name__} from the connector: {error}"
    )
