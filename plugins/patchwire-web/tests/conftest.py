"""A local site for the web connector's tests: real HTML, robots.txt, ETags, redirects, a slow
page, a huge page, a changed layout, and a small JSON API, served by aiohttp on loopback."""

from __future__ import annotations

import asyncio
import collections
import gzip
from collections.abc import AsyncIterator, Callable
from typing import Any

import attrs
import pytest
from aiohttp import web
from patchwire.clock import Clock
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire_web.plugin import plugin

ARTICLE = """<!doctype html>
<html><head><title>Patchwire news</title><style>.lede { color: red }</style></head>
<body>
<header><a href="/">Home</a></header>
<nav><a href="/about">About</a> <a href="/contact">Contact</a></nav>
<main>
  <h1 class="title">Tools behind one interface</h1>
  <p class="lede">Every call goes through the <a href="/pipeline#retries">pipeline</a>, retries included.</p>
  <ul class="prices"><li class="price">3 EUR</li><li class="price">5 EUR</li></ul>
  <p>Second   paragraph.</p>
  <a href="https://example.org/elsewhere">Elsewhere</a> <a href="mailto:x@example.org">Mail</a>
</main>
<script>var tracking = "never in the text";</script>
<footer>Site footer</footer>
</body></html>"""

# The same page after a redesign: the title moved to an h2 with another class.
ARTICLE_V2 = ARTICLE.replace('<h1 class="title">', '<h2 class="headline">').replace(
    "</h1>", "</h2>"
)

ROBOTS = "User-agent: *\nDisallow: /private\n\nUser-agent: grumpybot\nDisallow: /\n"
LAST_MODIFIED = "Wed, 21 Oct 2015 07:28:00 GMT"


@attrs.define
class Site:
    url: str = ""
    port: int = 0
    hits: collections.Counter[str] = attrs.field(factory=collections.Counter)
    not_modified: collections.Counter[str] = attrs.field(factory=collections.Counter)
    headers: dict[str, list[dict[str, str]]] = attrs.field(
        factory=lambda: collections.defaultdict(list)
    )
    in_flight: int = 0
    max_in_flight: int = 0
    flaky_failures: int = 1


def _app(site: Site) -> web.Application:
    routes = web.RouteTableDef()

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        site.hits[request.path] += 1
        site.headers[request.path].append(dict(request.headers))
        response: web.StreamResponse = await handler(request)
        if response.status == 304:
            site.not_modified[request.path] += 1
        return response

    def html(body: str, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
        return web.Response(
            text=body, status=status, content_type="text/html", charset="utf-8", headers=headers
        )

    @routes.get("/robots.txt")
    async def robots(request: web.Request) -> web.Response:
        return web.Response(text=ROBOTS)

    @routes.get("/article")
    async def article(request: web.Request) -> web.Response:
        if request.headers.get("If-None-Match") == '"v1"':
            return web.Response(status=304, headers={"ETag": '"v1"'})
        return html(ARTICLE, headers={"ETag": '"v1"'})

    @routes.get("/dated")
    async def dated(request: web.Request) -> web.Response:
        if request.headers.get("If-Modified-Since") == LAST_MODIFIED:
            return web.Response(status=304)
        return html(ARTICLE, headers={"Last-Modified": LAST_MODIFIED})

    @routes.get("/fresh")
    async def fresh(request: web.Request) -> web.Response:
        cache = {"Cache-Control": "max-age=60", "ETag": '"f1"'}
        if request.headers.get("If-None-Match") == '"f1"':
            return web.Response(status=304, headers=cache)
        return html(ARTICLE, headers=cache)

    @routes.get("/nostore")
    async def nostore(request: web.Request) -> web.Response:
        return html(ARTICLE, headers={"Cache-Control": "no-store", "ETag": '"n1"'})

    @routes.get("/v2/article")
    async def changed(request: web.Request) -> web.Response:
        return html(ARTICLE_V2)

    @routes.get("/private/report")
    async def private(request: web.Request) -> web.Response:
        return html("<html><body>not for robots</body></html>")

    @routes.get("/old")
    async def old(request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently("/article")

    @routes.get("/hop1")
    async def hop1(request: web.Request) -> web.Response:
        raise web.HTTPFound("/hop2")

    @routes.get("/hop2")
    async def hop2(request: web.Request) -> web.Response:
        raise web.HTTPFound("/article")

    @routes.get("/loop")
    async def loop(request: web.Request) -> web.Response:
        raise web.HTTPFound("/loop")

    @routes.get("/to-private-area")
    async def to_private(request: web.Request) -> web.Response:
        raise web.HTTPFound("/private/report")

    @routes.get("/to-other-origin")
    async def to_other(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"http://localhost:{site.port}/api/echo")

    @routes.get("/slow")
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return html(ARTICLE)

    @routes.get("/huge")
    async def huge(request: web.Request) -> web.Response:
        return html("<p>" + "x" * (3 << 20) + "</p>")

    @routes.get("/huge-stream")
    async def huge_stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        await response.prepare(request)
        for _ in range(48):  # 3 MiB, no Content-Length
            await response.write(b"y" * 65536)
        await response.write_eof()
        return response

    @routes.get("/compressed")
    async def compressed(request: web.Request) -> web.Response:
        response = html(ARTICLE)
        response.enable_compression()
        return response

    @routes.get("/bomb")
    async def bomb(request: web.Request) -> web.Response:
        # 20 KB on the wire, 20 MB once inflated.
        body = gzip.compress(b"<p>" + b"0" * (20 << 20) + b"</p>", compresslevel=1)
        return web.Response(
            body=body, headers={"Content-Encoding": "gzip", "Content-Type": "text/html"}
        )

    @routes.get("/image.png")
    async def image(request: web.Request) -> web.Response:
        return web.Response(body=b"\x89PNG\r\n\x1a\n", content_type="image/png")

    @routes.get("/notes.txt")
    async def notes(request: web.Request) -> web.Response:
        return web.Response(text="  plain notes  \n")

    @routes.get("/missing")
    async def missing(request: web.Request) -> web.Response:
        return html("<html><head><title>Not here</title></head></html>", status=404)

    @routes.get("/api/search")
    async def search(request: web.Request) -> web.Response:
        q = request.query.get("q", "")
        page = int(request.query.get("page", "1"))
        return web.json_response(
            {"items": [{"id": 1, "name": q}], "total": 1, "meta": {"page": page}},
            headers={"ETag": f'"s-{q}-{page}"'},
        )

    @routes.get("/api/v2/search")
    async def search_v2(request: web.Request) -> web.Response:
        return web.json_response({"items": [{"id": 1}], "meta": {}})

    @routes.get("/api/html")
    async def api_html(request: web.Request) -> web.Response:
        return html("<html><body>Please log in</body></html>")

    @routes.post("/api/items")
    async def items(request: web.Request) -> web.Response:
        return web.json_response({"json": await request.json()}, status=201)

    @routes.post("/api/form")
    async def form(request: web.Request) -> web.Response:
        return web.json_response({"form": dict(await request.post())})

    @routes.post("/api/post-redirect")
    async def post_redirect(request: web.Request) -> web.Response:
        raise web.HTTPSeeOther("/api/echo")

    @routes.get("/api/echo")
    async def echo(request: web.Request) -> web.Response:
        return web.json_response(
            {"headers": dict(request.headers), "query": dict(request.query), "path": request.path}
        )

    @routes.get("/api/flaky")
    async def flaky(request: web.Request) -> web.Response:
        if site.flaky_failures > 0:
            site.flaky_failures -= 1
            return web.json_response({"error": {"message": "try again"}}, status=500)
        return web.json_response({"items": ["ok"], "total": 1})

    @routes.get("/api/limited")
    async def limited(request: web.Request) -> web.Response:
        return web.json_response({"error": "slow down"}, status=429, headers={"Retry-After": "7"})

    @routes.get("/api/slowish")
    async def slowish(request: web.Request) -> web.Response:
        site.in_flight += 1
        site.max_in_flight = max(site.max_in_flight, site.in_flight)
        try:
            await asyncio.sleep(0.05)
        finally:
            site.in_flight -= 1
        return web.json_response({"ok": True})

    @routes.get("/api/secure")
    async def secure(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != "Bearer sesame-0123456789":
            return web.json_response({"error": {"message": "bad token"}}, status=401)
        return web.json_response({"items": [], "total": 0})

    app = web.Application(middlewares=[record])
    app.add_routes(routes)
    return app


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    state = Site()
    runner = web.AppRunner(_app(state), shutdown_timeout=0.1, handler_cancellation=True)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    state.port = runner.addresses[0][1]
    state.url = f"http://127.0.0.1:{state.port}"
    yield state
    await runner.cleanup()


@pytest.fixture
def article_html() -> str:
    """The site's article page, for tests that parse it without a server."""
    return ARTICLE


@pytest.fixture
def web_host(plugin_host: PluginHost) -> PluginHost:
    plugin_host.register(plugin, "web")
    return plugin_host


HubFactory = Callable[..., Hub]


@pytest.fixture
def make_hub(web_host: PluginHost, site: Site) -> HubFactory:
    """``make_hub(operations=..., clock=..., **connector_keys)``: a hub whose ``site``
    connector points at the local site (loopback allowed), one attempt per call."""

    def make(clock: Clock | None = None, **table: Any) -> Hub:
        connector = {
            "type": "web",
            "base_url": site.url,
            "allow_private": True,
            "timeout": 3,
            "retry": {"max_attempts": 1},
            **table,
        }
        hub = Hub.from_dict({"connectors": {"site": connector}}, host=web_host, clock=clock)
        wire_events(hub, "site")
        return hub

    return make


def wire_events(hub: Hub, name: str) -> None:
    """Give connector ``name`` the hub's event bus.

    Core's Hub builds each ConnectorContext without ``emit`` (reported to the lead), so a
    304 revalidation would not reach the metrics; this hands the bus over the way the Hub
    is meant to.
    """
    connector = hub.runtime(name).connector
    connector.ctx = attrs.evolve(connector.ctx, emit=hub.bus.emit)
