"""HTTP for connectors: one request over the hub's session, errors kept for the classifiers.

Connectors that speak HTTP call :func:`send` (or :func:`open_stream` for SSE) so that
every one of them attaches credentials, bounds bodies and reports errors the same way: a
status of 400 or more raises :class:`HttpStatusError` carrying the response, which the
provider plugin's ``patchwire_classify_error`` reads (body shape, headers) and core's
default classifies by status when no plugin does.

Credentials stay with their origin. A request goes out with what the auth layer attached
(``Attempt.attached``: headers, query parameters, the TLS context and its client
certificate) only when its URL has the origin those credentials were configured for;
to any other origin it goes without them. Redirects are not followed unless a connector
asks (``allow_redirects=True``); then every hop goes through the same rule. A redirect
that is not followed is an ``integration`` error naming the origin it pointed to.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
import attrs
from multidict import CIMultiDict, CIMultiDictProxy

from patchwire.auth.attached import Attached, origin_of, trust_only
from patchwire.connector import Attempt
from patchwire.errors import IntegrationError
from patchwire.filling import WeaklyReferenced, twin
from patchwire.redact import redact_url

__all__ = [
    "REDIRECTS",
    "HttpResponse",
    "HttpStatusError",
    "Redirect",
    "anonymous",
    "loads_text",
    "open_stream",
    "redirect_target",
    "send",
]

DEFAULT_MAX_BODY = 32 * 1024 * 1024
DEFAULT_MAX_REDIRECTS = 10
REDIRECTS = frozenset({301, 302, 303, 307, 308})
# First bytes of a JSON object or array in UTF-8 (a UTF-16 or UTF-32 body has a NUL
# within its first two bytes, a UTF-8 one with a byte-order mark starts with 0xEF).
_PLAIN_START = frozenset({b"{", b"["})


def _fast_loads() -> Callable[[bytes], Any] | None:
    """orjson's parser where it is installed (optional), else None: the standard library's."""
    try:
        import orjson  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return None
    loads: Callable[[bytes], Any] = orjson.loads
    return loads


# orjson reads a reply about three times as cheaply as json.loads (issue 19: ~21k against
# ~60k instructions for a chat completion's 620 bytes, the most expensive step of the HTTP
# side). Where the two could differ it is not used or not believed: it turns an integer
# beyond 64 bits into a float where json.loads keeps the int, so a body with a run of 19
# or more digits (no integer of 18 or fewer digits exceeds 64 bits) goes to json.loads;
# whatever orjson refuses (NaN, Infinity, an out-of-range float, a lone surrogate, a
# byte-order mark, UTF-16/32, nesting past 1,024, anything not UTF-8) json.loads reads, or
# refuses in its own words, as without orjson.
_FAST_LOADS = _fast_loads()
_DIGITS_MARKED = bytes(48 if 48 <= byte <= 57 else 32 for byte in range(256))  # "0" or " "
_LONG_NUMBER = b"0" * 19
_UNREAD: Any = object()  # what _read_fast answers when json.loads is to read the text


def _read_fast(body: bytes) -> Any:
    """``body`` read by orjson, or ``_UNREAD`` where it is absent or could differ (above)."""
    # find, not `in`: bytes' `in` first tries its operand as an int (a byte value), raising
    # and clearing a TypeError for a bytes one, ~1.2k instructions on every reply.
    if _FAST_LOADS is None or body.translate(_DIGITS_MARKED).find(_LONG_NUMBER) >= 0:
        return _UNREAD
    try:
        return _FAST_LOADS(body)
    except ValueError:
        return _UNREAD  # json.loads reads it, or words the error, as without orjson


def loads_text(text: str) -> Any:
    """``json.loads(text)``: the same value or the same ``ValueError``, read by orjson where
    it is installed and reads the same (a stream's chunks: one parse per chunk)."""
    if _FAST_LOADS is not None:
        try:
            # orjson takes a str too, but marking the digits of a str costs ~4x its bytes'
            body = text.encode()
        except UnicodeEncodeError:  # a lone surrogate, which orjson refuses anyway
            return json.loads(text)
        value = _read_fast(body)
        if value is not _UNREAD:
            return value
    return json.loads(text)


@attrs.frozen(slots=True)
class HttpResponse(WeaklyReferenced):
    """A whole response: its status, headers and (bounded) body, and the URL it answered."""

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
        body = self.body
        value = _read_fast(body)
        if value is not _UNREAD:
            return value
        try:
            if body[:1] in _PLAIN_START and body[1:2] != b"\x00":
                # UTF-8 without a byte-order mark, as json.loads would find it: decoded
                # here, as json.loads decodes, rather than guessed among UTF-8/16/32 first.
                return json.loads(body.decode("utf-8", "surrogatepass"))
            return json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise IntegrationError(
                f"expected a JSON body from {self.url} (status {self.status}), got"
                f" {len(self.body)} bytes that do not parse: {exc}",
                status=self.status,
            ) from None

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


# An HttpResponse being filled in (see patchwire.filling).
_ResponseFilling = twin(HttpResponse)


def _response(
    status: int, headers: CIMultiDictProxy[str], body: bytes, raw_url: object
) -> HttpResponse:
    """``HttpResponse(status, headers, body, raw_url)`` without the frozen ``__init__``'s
    setattr call per field: every request makes one (issue 19)."""
    made: Any = object.__new__(_ResponseFilling)  # its slots are HttpResponse's
    made.status = status
    made.headers = headers
    made.body = body
    made.raw_url = raw_url
    made.__class__ = HttpResponse
    built: HttpResponse = made
    return built


class HttpStatusError(Exception):
    """A response with status >= 400. The classifier hooks read ``response``."""

    def __init__(self, response: HttpResponse) -> None:
        super().__init__(f"HTTP {response.status} from {response.url}")
        self.response = response


@attrs.frozen
class Redirect:
    """Where a redirect response sends the request next, and how."""

    url: str  # absolute, without a fragment
    method: str
    keep_body: bool  # 307/308 resend the body; 303 (and 301/302 after a POST) become a GET


def anonymous(attempt: Attempt) -> Attempt:
    """A copy of ``attempt`` that carries none of the auth layer's credentials."""
    attached = attempt.attached
    return attrs.evolve(
        attempt,
        headers={k: v for k, v in attempt.headers.items() if not attached.is_header(k)},
        params={k: v for k, v in attempt.params.items() if not attached.is_param(k)},
        ssl=trust_only(attempt.ssl) if attached.tls else attempt.ssl,
        attached=Attached.nothing(),
    )


def _outgoing(
    attempt: Attempt, url: str, headers: Mapping[str, str] | None, params: Mapping[str, str] | None
) -> tuple[CIMultiDict[str], Mapping[str, str], ssl.SSLContext | bool]:
    """Headers, query and TLS for one request to ``url``: credentials only to their own origin."""
    if not attempt.attached.allows(url):
        attempt = anonymous(attempt)
    merged: CIMultiDict[str] = CIMultiDict(attempt.headers)
    if headers:
        merged.update(headers)
    # The attempt's own query when the caller adds none (every model call): no merged copy.
    query = {**attempt.params, **params} if params else attempt.params
    return merged, query, attempt.ssl if attempt.ssl is not None else True


def _shown(url: str) -> str:
    """A URL fit for a message: origin and path, never the query (it may hold a key)."""
    parts = urlsplit(url)
    return f"{origin_of(url)}{parts.path}"


def redirect_target(response: HttpResponse, url: str, method: str) -> Redirect | None:
    """The next hop ``response`` (an answer to ``method url``) asks for; None if it is no redirect.

    A redirect to anything but http(s) is an ``integration`` error.
    """
    location = response.headers.get("Location")
    if response.status not in REDIRECTS or not location:
        return None
    target = urljoin(url, location).split("#", 1)[0]
    scheme = urlsplit(target).scheme
    if scheme not in ("http", "https"):
        raise IntegrationError(
            f"{_shown(url)} answered {response.status} redirecting to a '{scheme}:' URL,"
            " which is not http(s)",
            status=response.status,
        )
    if response.status == 303 or (response.status in (301, 302) and method == "POST"):
        return Redirect(target, "HEAD" if method == "HEAD" else "GET", keep_body=False)
    return Redirect(target, method, keep_body=True)


def _not_followed(method: str, url: str, status: int, location: str) -> IntegrationError:
    target = origin_of(urljoin(url, location))
    where = "the same origin" if target == origin_of(url) else "another origin"
    return IntegrationError(
        f"{method} {_shown(url)} answered {status}, a redirect to {target} ({where}), which is"
        " not followed: credentials go only to the origin they were configured for. If the"
        " service moved, set base_url to its new address",
        status=status,
    )


def _in_one_read(resp: aiohttp.ClientResponse, limit: int) -> bool:
    """Whether one ``read()`` takes the whole body within ``limit``; a declared length over
    the limit is an ``integration`` error before any byte is read."""
    length = resp.content_length
    if length is not None and length > limit:
        raise IntegrationError(
            f"response body of {length} bytes exceeds the {limit}-byte limit",
            status=resp.status,
        )
    # The common case reads in one call. A compressed body is inflated while it is read,
    # so its declared length says nothing about its size: it takes the loop.
    return length is not None and "Content-Encoding" not in resp.headers


async def _read_chunks(resp: aiohttp.ClientResponse, limit: int) -> bytes:
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


async def _read_capped(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    return await resp.read() if _in_one_read(resp, limit) else await _read_chunks(resp, limit)


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
    allow_redirects: bool = False,
    max_redirects: int = DEFAULT_MAX_REDIRECTS,
    return_redirects: bool = False,
    raise_for_status: bool = True,
) -> HttpResponse:
    """One request; returns the whole (bounded) body or raises ``HttpStatusError``.

    A redirect is followed only with ``allow_redirects`` (each hop under the origin rule,
    ``params`` only on the first, since a Location carries its own query). Otherwise it
    is an ``integration`` error naming the origin it points to, or, with
    ``return_redirects``, returned to a caller that follows redirects itself (then with
    ``redirect_target`` for the next hop, and this function for each hop).
    """
    start = url
    for _ in range(max_redirects + 1):
        # The request is made here rather than in a helper coroutine: each coroutine
        # between the caller and aiohttp is created, and resumed at every suspension, on
        # every call.
        sent, query, tls = _outgoing(attempt, url, headers, params)
        async with attempt.session.request(
            method,
            url,
            json=json_body,
            data=data,
            headers=sent,
            params=query or None,
            ssl=tls,
            allow_redirects=False,
        ) as resp:
            body = (
                await resp.read()
                if _in_one_read(resp, max_body)
                else await _read_chunks(resp, max_body)
            )
            response = _response(resp.status, resp.headers, body, resp.url)
        if response.status not in REDIRECTS:
            break
        if not allow_redirects:
            if return_redirects or not response.headers.get("Location"):
                return response
            raise _not_followed(method, url, response.status, response.headers["Location"])
        hop = redirect_target(response, url, method)
        if hop is None:
            break
        url, method, params = hop.url, hop.method, None
        if not hop.keep_body:
            json_body = data = None
    else:
        raise IntegrationError(
            f"{_shown(start)} redirected more than {max_redirects} times", status=response.status
        )
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
    """Open a streaming response; an error status raises ``HttpStatusError`` before any byte is yielded.

    A stream is never redirected: a redirect is an ``integration`` error naming its origin.
    """
    sent, query, tls = _outgoing(attempt, url, headers, params)
    async with attempt.session.request(
        method,
        url,
        json=json_body,
        headers=sent,
        params=query or None,
        ssl=tls,
        allow_redirects=False,
    ) as resp:
        location = resp.headers.get("Location")
        if resp.status in REDIRECTS and location:
            raise _not_followed(method, url, resp.status, location)
        if resp.status >= 400:
            body = await _read_capped(resp, max_error_body)
            raise HttpStatusError(HttpResponse(resp.status, resp.headers, body, resp.url))
        yield resp
