"""Connector type ``web``: one attempt of an operation is one HTTP exchange (redirects followed).

The connector owns its HTTP session because the SSRF guard must sit in the session's
resolver: only there are the addresses checked the ones connected to. Credentials still
come from the pipeline's auth layer (``attempt.headers``/``attempt.params``), and core's
HTTP layer sends them only to the origin they were configured for (``base_url``, else the
origin the call started at), never across a redirect to another one. Headers an operation
fills from call arguments stay with the call's origin too, unless the operation lists
them in ``forward_headers``.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import urlsplit

import aiohttp
import attrs
from aiohttp.resolver import DefaultResolver, ThreadedResolver
from patchwire.auth.attached import origin_of
from patchwire.config import ConnectorConfig
from patchwire.connector import Attempt, Capability, Connector, ConnectorContext, Setting, ToolInfo
from patchwire.errors import IntegrationError, InvalidRequestError
from patchwire.events import Event, EventKind
from patchwire.http import HttpResponse, HttpStatusError, anonymous, redirect_target, send
from patchwire.proxy import ProxyRules, proxy_request_class
from patchwire.types import CompletionRequest, EmbeddingRequest, ToolRequest, ToolResult

from patchwire_web import __version__
from patchwire_web.encoding import ACCEPT_ENCODING, decode_body
from patchwire_web.fields import missing_fields
from patchwire_web.guard import AddressRefused, GuardedResolver, literal_refusal
from patchwire_web.httpcache import HttpCache, Stored
from patchwire_web.operations import (
    DEFAULT_HTTP_CACHE_SIZE,
    DEFAULT_MAX_BODY,
    DEFAULT_MAX_REDIRECTS,
    DEFAULT_ROBOTS_TTL,
    DEFAULT_USER_AGENT,
    EXTRACTS,
    FETCH,
    Bound,
    Kind,
    Operation,
    bind_fetch,
    parse_settings,
)
from patchwire_web.robots import Robots, origin
from patchwire_web.urls import check_url

__all__ = ["WebConnector"]

Request = CompletionRequest | EmbeddingRequest | ToolRequest

_LIST_TOOLS = "tools/list"  # the request the pipeline validates before list_tools
_ROBOTS_MAX_BODY = 512 * 1024  # RFC 9309 asks crawlers to read at least 500 KiB
_HTML = frozenset({"text/html", "application/xhtml+xml"})
_PAGE_TYPES = _HTML | {"application/xml"}

# How an answer was obtained; anything but MISS is a cache hit.
MISS = "miss"
FRESH = "fresh"
REVALIDATED = "revalidated"


def _content_type(response: HttpResponse) -> str:
    return response.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()


def _is_json(content_type: str) -> bool:
    return content_type in ("application/json", "text/json") or content_type.endswith("+json")


def _is_page(content_type: str) -> bool:
    return content_type in _PAGE_TYPES or content_type.startswith("text/")


def _decode(response: HttpResponse) -> str:
    charset = "utf-8"
    for param in response.headers.get("Content-Type", "").split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.lower() == "charset" and value:
            charset = value.strip().strip('"')
    try:
        codecs.lookup(charset)
    except LookupError:
        charset = "utf-8"
    return response.body.decode(charset, errors="replace")


def _headers(response: HttpResponse) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in response.headers.items():
        key = name.lower()
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


class WebConnector(Connector):
    """Web pages and undocumented HTTP APIs; see the package README for the configuration."""

    type_name = "web"
    version = __version__
    capabilities = frozenset({Capability.TOOL})
    settings: ClassVar[Mapping[str, Setting]] = {
        "operations": Setting(
            (dict,), {}, "named operations, one [connectors.NAME.operations.OP] table each"
        ),
        "user_agent": Setting(
            (str,), DEFAULT_USER_AGENT, "the User-Agent sent, and matched in robots.txt"
        ),
        "respect_robots": Setting((bool,), True, "honour robots.txt for page fetches"),
        "robots_ttl": Setting(
            (int, float), DEFAULT_ROBOTS_TTL, "seconds a site's robots.txt is kept"
        ),
        "allow_private": Setting(
            (bool,), False, "allow private, loopback and link-local addresses (off: SSRF guard)"
        ),
        "max_body": Setting((int,), DEFAULT_MAX_BODY, "bytes of a response body allowed"),
        "max_redirects": Setting((int,), DEFAULT_MAX_REDIRECTS, "redirects followed per request"),
        "http_cache_size": Setting(
            (int,),
            DEFAULT_HTTP_CACHE_SIZE,
            "bytes of answers kept for conditional requests (0: off)",
        ),
    }

    def __init__(self, ctx: ConnectorContext) -> None:
        super().__init__(ctx)
        self.web = parse_settings(ctx.config)
        self._robots = Robots(ctx.clock, self.web.robots_ttl, self.web.user_agent)
        self._http_cache = HttpCache(self.web.http_cache_size) if self.web.http_cache_size else None
        self._session: aiohttp.ClientSession | None = None
        # The hub's proxy rule, with this connector's own `proxy` for every site it fetches.
        self._proxies = (
            ctx.proxies.scoped(ctx.config.proxy)
            if ctx.proxies is not None
            else ProxyRules(ctx.config.proxy, ctx.secrets, ctx.config.where.source)
        )

    @classmethod
    def check_config(cls, config: ConnectorConfig) -> None:
        parse_settings(config)

    # --- lifecycle -----------------------------------------------------------------------

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            resolver = None
            if not self.web.allow_private:
                resolver = GuardedResolver(DefaultResolver(), self._proxies.is_proxy_host)
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(resolver=resolver, limit=0, ttl_dns_cache=300),
                request_class=proxy_request_class(self._proxies),
                headers={"User-Agent": self.web.user_agent, "Accept-Encoding": ACCEPT_ENCODING},
                # Stateless on purpose: no call sees cookies another call was given.
                cookie_jar=aiohttp.DummyCookieJar(),
                timeout=aiohttp.ClientTimeout(total=None),
                # Bodies are inflated by decode_body, within max_body (see encoding.py).
                auto_decompress=False,
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- requests, before anything is sent ----------------------------------------------

    def _operation(self, name: str) -> Operation:
        operation = self.web.operations.get(name)
        if operation is None:
            names = ", ".join([FETCH, *sorted(self.web.operations)])
            raise InvalidRequestError(
                f"tool '{self.name}' has no operation '{name}'; its operations: {names}",
                connector=self.name,
            )
        return operation

    def _bind(self, request: ToolRequest) -> Bound:
        if request.operation == FETCH:
            return bind_fetch(request.arguments, self.web.base_url)
        return self._operation(request.operation).bind(request.arguments, self.web.base_url)

    def validate(self, request: Request) -> None:
        if isinstance(request, ToolRequest) and request.operation != _LIST_TOOLS:
            self._bind(request)

    def limit_key(self, request: Request) -> str | None:
        # Politeness is per site: [limits] apply to each host on its own.
        if not isinstance(request, ToolRequest) or request.operation == _LIST_TOOLS:
            return None
        try:
            return self._bind(request).host
        except InvalidRequestError:
            return None

    def is_deterministic(self, request: Request) -> bool:
        if isinstance(request, ToolRequest) and request.operation in self.web.operations:
            return self.web.operations[request.operation].cache
        return False

    def timeout_for(self, request: Request) -> float | None:
        """An operation's own ``timeout``, else the connector's."""
        if isinstance(request, ToolRequest) and request.operation in self.web.operations:
            return self.web.operations[request.operation].timeout
        return None

    def ttl_for(self, request: Request) -> float | None:
        """An operation's own ``ttl``, else the connector's ``[cache] ttl``."""
        if isinstance(request, ToolRequest) and request.operation in self.web.operations:
            return self.web.operations[request.operation].ttl
        return None

    # --- one exchange -----------------------------------------------------------------------

    def _refused(self, detail: str) -> InvalidRequestError:
        return InvalidRequestError(
            f"refused to connect: {detail}; private, loopback and link-local addresses are off"
            " limits unless the connector sets allow_private = true",
            connector=self.name,
        )

    async def _send(
        self,
        attempt: Attempt,
        method: str,
        url: str,
        headers: Mapping[str, str],
        json_body: Any,
        form: Mapping[str, str] | None,
        max_body: int,
    ) -> HttpResponse:
        if not self.web.allow_private:
            host = urlsplit(url).hostname or ""
            reason = literal_refusal(host)
            if reason is not None:
                raise self._refused(f"{host} is {reason}")
            if self._proxies.for_url(url) is not None:
                # Through a proxy this host is never resolved here, so the guard checks its
                # name now; the proxy may still resolve it otherwise (split DNS), which only
                # allow_private = false on the proxy's side can rule out.
                try:
                    await GuardedResolver(ThreadedResolver()).resolve(host)
                except AddressRefused as exc:
                    raise self._refused(str(exc)) from None
        try:
            response = await send(
                attempt,
                method,
                url,
                json_body=json_body,
                data=form,
                headers=headers,
                max_body=max_body,
                return_redirects=True,
                raise_for_status=False,
            )
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, AddressRefused):
                raise self._refused(str(exc.os_error)) from None
            raise
        except IntegrationError as exc:  # the body cap
            exc.message = f"{url}: {exc.message} (the connector's max_body)"
            exc.connector = self.name
            raise
        encoding = response.headers.get("Content-Encoding")
        if encoding and response.body:
            try:
                response = attrs.evolve(
                    response, body=decode_body(response.body, encoding, max_body)
                )
            except IntegrationError as exc:
                exc.message = f"{url}: {exc.message}"
                exc.connector = self.name
                raise
        return response

    async def _follow(
        self,
        attempt: Attempt,
        method: str,
        url: str,
        headers: Mapping[str, str],
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
        *,
        robots: bool,
        max_body: int,
        private: frozenset[str] = frozenset(),
    ) -> HttpResponse:
        """Send, following redirects; the final answer whatever its status.

        Core's HTTP layer keeps what the auth layer attached with its own origin on every
        hop. ``private`` names (lower-cased) the headers filled from call arguments that
        the operation does not declare safe to forward: they stay with the origin the call
        started at, and are not sent again once a hop has left it.
        """
        start = url
        home = origin_of(url)
        for _ in range(self.web.max_redirects + 1):
            if robots:
                await self._check_robots(url, attempt)
            if private and origin_of(url) != home:
                headers = {k: v for k, v in headers.items() if k.lower() not in private}
            response = await self._send(attempt, method, url, headers, json_body, form, max_body)
            try:
                hop = redirect_target(response, url, method)
                if hop is not None:
                    check_url(hop.url)  # the server's Location, read as aiohttp would
            except IntegrationError as exc:
                exc.connector = self.name
                raise
            except ValueError as exc:  # UrlProblem, or a Location urljoin cannot read
                raise IntegrationError(
                    f"{start} redirected to a URL that cannot be fetched: {exc}",
                    connector=self.name,
                    status=response.status,
                ) from None
            if hop is None:
                return attrs.evolve(response, raw_url=url)
            if hop.keep_body and (json_body is not None or form) and origin_of(hop.url) != home:
                # A 307/308 asks for the same body again; filled from the call's arguments,
                # it may hold what only the call's own origin should see.
                raise IntegrationError(
                    f"{start} answered {response.status}, asking for the request body to be"
                    f" sent again to {origin_of(hop.url)} (another origin); a body is never"
                    " re-sent across origins. If the service moved, change the operation's URL",
                    connector=self.name,
                    status=response.status,
                )
            url, method = hop.url, hop.method
            if not hop.keep_body:
                json_body, form = None, None
        raise IntegrationError(
            f"{start} redirected more than {self.web.max_redirects} times (max_redirects)",
            connector=self.name,
        )

    async def _fetch_robots(self, robots_url: str, attempt: Attempt) -> tuple[int, str]:
        response = await self._follow(
            anonymous(attempt), "GET", robots_url, {}, robots=False, max_body=_ROBOTS_MAX_BODY
        )
        return response.status, response.text()

    async def _check_robots(self, url: str, attempt: Attempt) -> None:
        if not self.web.respect_robots:
            return
        if not await self._robots.allowed(
            url, lambda robots_url: self._fetch_robots(robots_url, attempt)
        ):
            raise InvalidRequestError(
                f"robots.txt of {origin(url)} forbids fetching {url} for user agent"
                f" {self.web.user_agent!r}; set respect_robots = false to ignore robots.txt",
                connector=self.name,
            )

    async def _exchange(self, bound: Bound, attempt: Attempt) -> tuple[HttpResponse, str]:
        cache = self._http_cache if bound.method == "GET" else None
        key = f"{bound.url}\n{json.dumps(sorted(bound.headers.items()))}"
        stored: Stored | None = cache.get(key) if cache is not None else None
        if stored is not None and stored.fresh(self.ctx.clock.now()):
            return stored.response, FRESH
        headers = {**bound.headers, **(stored.validators() if stored is not None else {})}
        response = await self._follow(
            attempt,
            bound.method,
            bound.url,
            headers,
            bound.json_body,
            bound.form,
            robots=bound.kind is Kind.PAGE,
            max_body=self.web.max_body,
            private=bound.private_headers,
        )
        now = self.ctx.clock.now()
        if response.status == 304:
            if cache is None or stored is None:
                raise IntegrationError(
                    f"{bound.url} answered 304 Not Modified to a request that was not conditional",
                    connector=self.name,
                    status=304,
                )
            return cache.revalidated(key, stored, response, now).response, REVALIDATED
        if response.status >= 400:
            raise HttpStatusError(response)
        if cache is not None:
            cache.store(key, response, now)
        return response, MISS

    # --- results -----------------------------------------------------------------------------

    def _json_result(
        self, bound: Bound, response: HttpResponse, text: str, metadata: dict[str, Any]
    ) -> ToolResult:
        content_type = metadata["content_type"]
        if content_type and not _is_json(content_type):
            raise IntegrationError(
                f"operation '{bound.operation}' expects JSON but {response.url} answered"
                f" {content_type}; the endpoint may have changed",
                connector=self.name,
                status=response.status,
            )
        data = response.json() if text.strip() else None
        missing = missing_fields(data, bound.required_fields)
        if missing:
            raise IntegrationError(
                f"the answer to '{bound.operation}' from {response.url} lacks declared fields:"
                f" {', '.join(missing)}; the endpoint may have changed",
                connector=self.name,
                status=response.status,
            )
        return ToolResult(output=data, text=text, metadata=metadata)

    def _page_result(
        self, bound: Bound, response: HttpResponse, text: str, metadata: dict[str, Any]
    ) -> ToolResult:
        content_type = metadata["content_type"]
        if content_type and not _is_page(content_type):
            raise IntegrationError(
                f"expected a page (HTML or text) from {response.url}, got {content_type}",
                connector=self.name,
                status=response.status,
            )
        output: dict[str, Any] = {"url": response.url, "status": response.status, "title": None}
        if content_type and content_type not in _HTML:
            if bound.select or bound.select_all:
                raise IntegrationError(
                    f"{response.url} is {content_type}, not HTML: its declared selectors cannot match",
                    connector=self.name,
                    status=response.status,
                )
            if "main_text" in bound.extract:
                output["main_text"] = text.strip()
            if "links" in bound.extract:
                output["links"] = []
            return ToolResult(output=output, text=text, metadata=metadata)
        from patchwire_web.extract import Page

        page = Page(text)
        output["title"] = page.title()
        if bound.select or bound.select_all:
            selected, missing = page.select(bound.select, bound.select_all)
            if missing:
                raise IntegrationError(
                    f"the page {response.url} no longer matches declared selectors:"
                    f" {', '.join(missing)} found nothing; its layout may have changed",
                    connector=self.name,
                    status=response.status,
                )
            output["selected"] = selected
        if "main_text" in bound.extract:
            output["main_text"] = page.main_text()
        if "links" in bound.extract:
            output["links"] = page.links(response.url)
        return ToolResult(output=output, text=text, metadata=metadata)

    async def call_tool(self, request: ToolRequest, attempt: Attempt) -> ToolResult:
        bound = self._bind(request)
        response, state = await self._exchange(bound, attrs.evolve(attempt, session=self._client()))
        if state != MISS:
            # No request reached the site (fresh) or only a 304 did: a cache hit either way.
            self.ctx.emit(
                Event(
                    EventKind.CACHE_HIT,
                    self.name,
                    None,
                    time=self.ctx.clock.now(),
                    operation=f"tool:{request.operation}",
                    data={"http_cache": state},
                )
            )
        metadata = {
            "status": response.status,
            "url": response.url,
            "headers": _headers(response),
            "content_type": _content_type(response),
            "http_cache": state,
        }
        text = _decode(response)
        if bound.kind is Kind.JSON:
            return self._json_result(bound, response, text, metadata)
        return self._page_result(bound, response, text, metadata)

    async def list_tools(self, attempt: Attempt) -> Sequence[ToolInfo]:
        page_options = {
            "extract": {"type": "array", "items": {"enum": list(EXTRACTS)}},
            "select": {"type": "object", "additionalProperties": {"type": "string"}},
            "select_all": {"type": "object", "additionalProperties": {"type": "string"}},
        }
        tools = [
            ToolInfo(
                FETCH,
                "fetch a page by URL",
                {
                    "type": "object",
                    "properties": {"url": {"type": "string"}, **page_options},
                    "required": ["url"],
                },
            )
        ]
        for name, operation in sorted(self.web.operations.items()):
            schema = operation.input_schema()
            if operation.kind is Kind.PAGE:
                schema["properties"].update(page_options)
            tools.append(ToolInfo(name, operation.description, schema))
        return tools
