"""HTTP for connectors: one request over the hub's session, errors kept for the classifiers.

Connectors that speak HTTP call :func:`send` (or :func:`open_stream` for SSE) so that
every one of them attaches credentials, bounds bodies and reports errors the same way: a
status of 400 or more raises :class:`HttpStatusError` carrying the response, which the
provider plugin's ``patchwire_classify_error`` reads (body shape, headers) and core's
default classifies by status when no plugin does.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import attrs
from multidict import CIMultiDict, CIMultiDictProxy

from patchwire.connector import Attempt
from patchwire.errors import IntegrationError
from patchwire.redact import redact_url

__all__ = ["HttpResponse", "HttpStatusError", "open_stream", "send"]

DEFAULT_MAX_BODY = 32 * 1024 * 1024


@attrs.frozen(slots=True)
class HttpResponse:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes
    raw_url: object = attrs.field(repr=False)  # the request URL, possibly with a key in its query

    @property
    def url(self) -> str:
        """The URL with credential query parameters masked (computed on use: error paths only)."""
        return redact_url(str(self.raw_url))

    def json(self) -> Any:
        """The body as JSON; a body that is not JSON is the tool answering in a form we did not expect."""
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise IntegrationError(
                f"expected a JSON body from {self.url} (status {self.status}), got"
                f" {len(self.body)} bytes that do not parse: {exc}",
                status=self.status,
            ) from None

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


class HttpStatusError(Exception):
    """A response with status >= 400. The classifier hooks read ``response``."""

    def __init__(self, response: HttpResponse) -> None:
        super().__init__(f"HTTP {response.status} from {response.url}")
        self.response = response


def _merge(attempt: Attempt, headers: Mapping[str, str] | None) -> CIMultiDict[str]:
    merged: CIMultiDict[str] = CIMultiDict(attempt.headers)
    if headers:
        merged.update(headers)
    return merged


async def _read_capped(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    length = resp.content_length
    if length is not None and length > limit:
        raise IntegrationError(
            f"response body of {length} bytes exceeds the {limit}-byte limit",
            status=resp.status,
        )
    if length is not None and "Content-Encoding" not in resp.headers:
        # The common case reads in one call. A compressed body is inflated while it is
        # read, so its declared length says nothing about its size: it takes the loop.
        return await resp.read()
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(65536):
        size += len(chunk)
        if size > limit:
            raise IntegrationError(
                f"response body exceeds the {limit}-byte limit", status=resp.status
            )
        chunks.append(chunk)
    return b"".join(chunks)


async def send(
    attempt: Attempt,
    method: str,
    url: str,
    *,
    json_body: Any = None,
    data: Any = None,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    max_body: int = DEFAULT_MAX_BODY,
    allow_redirects: bool = True,
    raise_for_status: bool = True,
) -> HttpResponse:
    """One request; returns the whole (bounded) body or raises ``HttpStatusError``."""
    query = {**attempt.params, **(params or {})}
    async with attempt.session.request(
        method,
        url,
        json=json_body,
        data=data,
        headers=_merge(attempt, headers),
        params=query or None,
        ssl=attempt.ssl if attempt.ssl is not None else True,
        allow_redirects=allow_redirects,
    ) as resp:
        body = await _read_capped(resp, max_body)
        response = HttpResponse(resp.status, resp.headers, body, resp.url)
    if raise_for_status and response.status >= 400:
        raise HttpStatusError(response)
    return response


@asynccontextmanager
async def open_stream(
    attempt: Attempt,
    method: str,
    url: str,
    *,
    json_body: Any = None,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    max_error_body: int = 1024 * 1024,
) -> AsyncIterator[aiohttp.ClientResponse]:
    """Open a streaming response; an error status raises ``HttpStatusError`` before any byte is yielded."""
    query = {**attempt.params, **(params or {})}
    async with attempt.session.request(
        method,
        url,
        json=json_body,
        headers=_merge(attempt, headers),
        params=query or None,
        ssl=attempt.ssl if attempt.ssl is not None else True,
    ) as resp:
        if resp.status >= 400:
            body = await _read_capped(resp, max_error_body)
            raise HttpStatusError(HttpResponse(resp.status, resp.headers, body, resp.url))
        yield resp
