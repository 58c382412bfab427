"""The web connector through ``hub.tool(...)`` against a real local site (aiohttp, loopback).

Integration: real HTTP on loopback. Time-dependent behaviour (robots.txt TTL, max-age)
runs on a VirtualClock that only moves when the test advances it, so nothing sleeps.
"""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from patchwire.clock import VirtualClock
from patchwire.errors import (
    AuthError,
    DegradedError,
    IntegrationError,
    InvalidRequestError,
    PatchwireError,
    RateLimitedError,
    TransientError,
)
from patchwire.hub import Hub

pytestmark = pytest.mark.integration

HubFactory = Callable[..., Hub]
Site = Any  # conftest.Site

SEARCH = {
    "url": "/api/search?q={q}&page={page}",
    "defaults": {"page": 1},
    "required_fields": ["items", "total"],
}
ARTICLE = {
    "url": "/article",
    "kind": "page",
    "select": {"title": "h1.title"},
    "select_all": {"prices": "li.price"},
    "extract": ["main_text"],
}


# --- JSON endpoints ------------------------------------------------------------------------


async def test_a_declared_json_operation_encodes_its_arguments(
    make_hub: HubFactory, site: Site
) -> None:
    hub = make_hub(operations={"search": SEARCH})
    async with hub:
        result = await hub.tool("site").call("search", q="red shoes/size?42&x", page=2)
    assert result.output == {
        "items": [{"id": 1, "name": "red shoes/size?42&x"}],
        "total": 1,
        "meta": {"page": 2},
    }
    assert result.metadata["status"] == 200
    assert result.metadata["content_type"] == "application/json"
    assert result.metadata["url"].endswith("/api/search?q=red%20shoes%2Fsize%3F42%26x&page=2")
    assert (result.tool, result.operation, result.attempts) == ("site", "search", 1)


async def test_json_and_form_bodies_headers_and_the_user_agent(
    make_hub: HubFactory, site: Site
) -> None:
    hub = make_hub(
        user_agent="shopbot/2.0 (+https://example.org/bot)",
        operations={
            "create": {
                "method": "POST",
                "url": "/api/items",
                "json": {"name": "{name}", "tags": "{tags}", "qty": "{qty}"},
                "headers": {"X-Requested-With": "XMLHttpRequest", "X-Trace": "trace-{name}"},
            },
            "subscribe": {
                "method": "POST",
                "url": "/api/form",
                "form": {"email": "{email}", "list": "news"},
            },
        },
    )
    async with hub:
        tool = hub.tool("site")
        created = await tool.call("create", name="lamp", tags=["a", "b"], qty=3)
        subscribed = await tool.call("subscribe", email="a+b@example.org")
    assert created.metadata["status"] == 201
    assert created.output == {"json": {"name": "lamp", "tags": ["a", "b"], "qty": 3}}
    assert subscribed.output == {"form": {"email": "a+b@example.org", "list": "news"}}
    sent = site.headers["/api/items"][0]
    assert sent["User-Agent"] == "shopbot/2.0 (+https://example.org/bot)"
    assert sent["X-Requested-With"] == "XMLHttpRequest" and sent["X-Trace"] == "trace-lamp"


async def test_credentials_come_from_the_auth_scheme(
    make_hub: HubFactory, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOP_TOKEN", "sesame-0123456789")
    ops = {"secure": {"url": "/api/secure"}}
    async with make_hub(api_key="env:SHOP_TOKEN", operations=ops) as hub:
        result = await hub.tool("site").call("secure")
    monkeypatch.setenv("SHOP_TOKEN", "wrong-0123456789")
    async with make_hub(api_key="env:SHOP_TOKEN", operations=ops) as hub:
        with pytest.raises(AuthError) as info:
            await hub.tool("site").call("secure")
    assert result.output == {"items": [], "total": 0}
    assert info.value.status == 401
    assert "bad token" in info.value.message and "/api/secure" in info.value.message
    assert "wrong-0123456789" not in str(info.value)


async def test_an_answer_lacking_declared_fields_is_an_integration_error_naming_them(
    make_hub: HubFactory,
) -> None:
    ops = {
        "search": {"url": "/api/v2/search", "required_fields": ["items.0.id", "total", "meta.page"]}
    }
    async with make_hub(operations=ops) as hub:
        with pytest.raises(IntegrationError) as info:
            await hub.tool("site").call("search")
    assert "lacks declared fields: total, meta.page" in info.value.message
    assert info.value.attempts == 1  # the endpoint changed: retrying will not help


async def test_a_json_operation_answered_with_html_is_an_integration_error(
    make_hub: HubFactory,
) -> None:
    async with make_hub(operations={"search": {"url": "/api/html"}}) as hub:
        with pytest.raises(IntegrationError, match=r"expects JSON but .* answered text/html"):
            await hub.tool("site").call("search")


async def test_http_statuses_are_classified_by_core_with_the_url(make_hub: HubFactory) -> None:
    ops = {"limited": {"url": "/api/limited"}, "flaky": {"url": "/api/flaky"}}
    async with make_hub(operations=ops) as hub:
        tool = hub.tool("site")
        with pytest.raises(RateLimitedError) as limited:
            await tool.call("limited")
        with pytest.raises(TransientError) as flaky:
            await tool.call("flaky")
        with pytest.raises(InvalidRequestError) as missing:
            await tool.call("fetch", url="/missing")
    assert limited.value.retry_after == 7.0
    assert flaky.value.status == 500 and "try again" in flaky.value.message
    assert missing.value.status == 404 and "/missing" in missing.value.message


# --- pages, extraction, layout ----------------------------------------------------------------


async def test_a_page_gives_status_url_headers_text_and_what_was_asked_for(
    make_hub: HubFactory, site: Site
) -> None:
    async with make_hub(operations={"article": ARTICLE}) as hub:
        page = await hub.tool("site").call("article", extract=["links"], select={"lede": "p.lede"})
    out = page.output
    assert out["status"] == 200 and out["url"] == f"{site.url}/article"
    assert out["title"] == "Patchwire news"
    assert out["selected"] == {
        "title": "Tools behind one interface",
        "lede": "Every call goes through the pipeline, retries included.",
        "prices": ["3 EUR", "5 EUR"],
    }
    assert out["main_text"].startswith("Tools behind one interface\nEvery call")
    assert {"url": f"{site.url}/pipeline", "text": "pipeline"} in out["links"]
    assert page.text.startswith("<!doctype html>")
    assert page.metadata["headers"]["etag"] == '"v1"'
    assert page.metadata["content_type"] == "text/html"


async def test_a_changed_layout_is_an_integration_error_naming_the_selector(
    make_hub: HubFactory,
) -> None:
    ops = {"article": {**ARTICLE, "url": "/v2/article"}}
    async with make_hub(operations=ops) as hub:
        with pytest.raises(IntegrationError) as info:
            await hub.tool("site").call("article")
    assert (
        "no longer matches declared selectors: title (h1.title) found nothing" in info.value.message
    )


async def test_content_types_a_page_cannot_have_are_refused(make_hub: HubFactory) -> None:
    async with make_hub() as hub:
        tool = hub.tool("site")
        with pytest.raises(IntegrationError, match=r"expected a page .* got image/png"):
            await tool.call("fetch", url="/image.png")
        notes = await tool.call("fetch", url="/notes.txt", extract=["main_text"])
        with pytest.raises(IntegrationError, match="not HTML"):
            await tool.call("fetch", url="/notes.txt", select={"t": "h1"})
    assert notes.output["main_text"] == "plain notes"


# --- safety -------------------------------------------------------------------------------------


async def test_bodies_over_the_cap_are_refused_with_or_without_content_length(
    make_hub: HubFactory,
) -> None:
    async with make_hub(max_body=1 << 20) as hub:
        tool = hub.tool("site")
        with pytest.raises(IntegrationError, match="exceeds the 1048576-byte limit") as declared:
            await tool.call("fetch", url="/huge")
        with pytest.raises(IntegrationError, match="exceeds the 1048576-byte limit"):
            await tool.call("fetch", url="/huge-stream")
    assert "/huge" in declared.value.message and "max_body" in declared.value.message


async def test_compressed_bodies_are_inflated_within_the_cap(
    make_hub: HubFactory, site: Site
) -> None:
    async with make_hub(max_body=1 << 20) as hub:
        tool = hub.tool("site")
        page = await tool.call("fetch", url="/compressed")
        with pytest.raises(IntegrationError, match="inflates past the 1048576-byte limit"):
            await tool.call("fetch", url="/bomb")
    assert site.headers["/compressed"][0]["Accept-Encoding"] == "gzip, deflate"
    assert page.metadata["headers"]["content-encoding"] in ("gzip", "deflate")
    assert page.output["title"] == "Patchwire news"


async def test_redirects_are_followed_up_to_the_limit(make_hub: HubFactory, site: Site) -> None:
    ops = {"moved": {"method": "POST", "url": "/api/post-redirect", "json": {"a": 1}}}
    async with make_hub(max_redirects=2, operations=ops) as hub:
        tool = hub.tool("site")
        moved = await tool.call("fetch", url="/old")
        chained = await tool.call("fetch", url="/hop1")
        after_post = await tool.call("moved")
        with pytest.raises(IntegrationError, match="redirected more than 2 times"):
            await tool.call("fetch", url="/loop")
    assert moved.output["url"] == chained.output["url"] == f"{site.url}/article"
    assert after_post.output["path"] == "/api/echo"  # 303: the follow-up is a GET


async def test_credentials_never_follow_a_redirect_to_another_origin(
    make_hub: HubFactory, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOP_TOKEN", "sesame-0123456789")
    ops = {"away": {"url": "/to-other-origin"}, "echo": {"url": "/api/echo"}}
    async with make_hub(api_key="env:SHOP_TOKEN", operations=ops) as hub:
        same = await hub.tool("site").call("echo")
        away = await hub.tool("site").call("away")
    assert same.output["headers"]["Authorization"] == "Bearer sesame-0123456789"
    assert away.metadata["url"] == f"http://localhost:{site.port}/api/echo"
    assert "Authorization" not in away.output["headers"]


async def test_private_and_loopback_addresses_are_refused_by_default(
    web_host: Any, site: Site
) -> None:
    hub = Hub.from_dict({"connectors": {"open": {"type": "web"}}}, host=web_host)
    async with hub:
        tool = hub.tool("open")
        with pytest.raises(
            InvalidRequestError, match=r"127\.0\.0\.1 is a loopback address"
        ) as literal:
            await tool.call("fetch", url=f"{site.url}/article")
        # A name is judged by the address it resolves to, not by how it looks.
        with pytest.raises(InvalidRequestError, match=r"localhost resolves to 127\.0\.0\.1"):
            await tool.call("fetch", url=f"http://localhost:{site.port}/article")
        with pytest.raises(InvalidRequestError, match=r"169\.254\.169\.254 is a link-local"):
            await tool.call("fetch", url="http://169.254.169.254/latest/meta-data/")
    assert "allow_private = true" in literal.value.message
    assert site.hits["/article"] == 0


@pytest.fixture
def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that no authority signed, and its key."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl makes the test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


async def test_tls_certificates_are_verified(web_host: Any, self_signed: tuple[Path, Path]) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*self_signed)

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="self-signed")

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context).start()
    port = runner.addresses[0][1]
    hub = Hub.from_dict(
        {
            "connectors": {
                "tls": {"type": "web", "allow_private": True, "retry": {"max_attempts": 1}}
            }
        },
        host=web_host,
    )
    try:
        async with hub:
            with pytest.raises(AuthError, match="TLS handshake failed"):
                await hub.tool("tls").call("fetch", url=f"https://127.0.0.1:{port}/")
    finally:
        await runner.cleanup()


async def test_a_slow_page_ends_at_the_attempt_timeout_as_degraded(make_hub: HubFactory) -> None:
    async with make_hub(timeout=0.3) as hub:
        started = time.monotonic()
        with pytest.raises(DegradedError, match="timed out"):
            await hub.tool("site").call("fetch", url="/slow")
    # /slow takes longer than any bound here; the bound is loose so load cannot fail it.
    assert time.monotonic() - started < 4.5


# --- robots.txt ---------------------------------------------------------------------------------


async def test_robots_txt_is_honoured_for_pages_fetched_once_and_kept_for_its_ttl(
    make_hub: HubFactory, site: Site
) -> None:
    clock = VirtualClock(autojump=False)
    async with make_hub(clock=clock, robots_ttl=600, operations={"search": SEARCH}) as hub:
        tool = hub.tool("site")
        # Concurrent first fetches share one robots.txt request.
        await asyncio.gather(*(tool.call("fetch", url=u) for u in ["/article", "/dated", "/fresh"]))
        with pytest.raises(
            InvalidRequestError, match=r"robots\.txt of .* forbids fetching"
        ) as info:
            await tool.call("fetch", url="/private/report")
        # Redirected into a forbidden area: checked again at each hop.
        with pytest.raises(InvalidRequestError, match=r"forbids fetching .*/private/report"):
            await tool.call("fetch", url="/to-private-area")
        await tool.call("search", q="x")  # an API operation is not a page fetch
        assert site.hits["/robots.txt"] == 1
        clock.advance(601)
        await tool.call("fetch", url="/article")
        assert site.hits["/robots.txt"] == 2
    assert info.value.attempts == 1
    assert site.hits["/private/report"] == 0


async def test_robots_txt_rules_for_the_configured_user_agent_apply(
    make_hub: HubFactory, site: Site
) -> None:
    async with make_hub(user_agent="GrumpyBot/1.0") as hub:
        with pytest.raises(InvalidRequestError, match="GrumpyBot"):
            await hub.tool("site").call("fetch", url="/article")


async def test_respect_robots_false_skips_robots_txt(make_hub: HubFactory, site: Site) -> None:
    async with make_hub(respect_robots=False) as hub:
        page = await hub.tool("site").call("fetch", url="/private/report")
    assert page.output["status"] == 200
    assert site.hits["/robots.txt"] == 0


# --- HTTP caching -------------------------------------------------------------------------------


async def test_etag_revalidation_counts_as_a_cache_hit(make_hub: HubFactory, site: Site) -> None:
    async with make_hub(operations={"article": ARTICLE}) as hub:
        tool = hub.tool("site")
        first = await tool.call("article")
        second = await tool.call("article")
        row = hub.metrics().for_model("site", None)
    assert site.hits["/article"] == 2 and site.not_modified["/article"] == 1
    assert site.headers["/article"][1]["If-None-Match"] == '"v1"'
    assert first.metadata["http_cache"] == "miss" and second.metadata["http_cache"] == "revalidated"
    assert second.output == first.output and second.metadata["status"] == 200
    assert row.cache.hits == 1 and row.succeeded == 2


async def test_last_modified_revalidation(make_hub: HubFactory, site: Site) -> None:
    async with make_hub() as hub:
        tool = hub.tool("site")
        await tool.call("fetch", url="/dated")
        again = await tool.call("fetch", url="/dated")
    assert again.metadata["http_cache"] == "revalidated"
    assert site.not_modified["/dated"] == 1


async def test_max_age_is_honoured_then_the_answer_is_revalidated(
    make_hub: HubFactory, site: Site
) -> None:
    clock = VirtualClock(autojump=False)
    async with make_hub(clock=clock) as hub:
        tool = hub.tool("site")
        await tool.call("fetch", url="/fresh")
        clock.advance(59)
        fresh = await tool.call("fetch", url="/fresh")
        assert site.hits["/fresh"] == 1  # served without a request
        clock.advance(2)
        revalidated = await tool.call("fetch", url="/fresh")
        row = hub.metrics().for_model("site", None)
    assert fresh.metadata["http_cache"] == "fresh"
    assert revalidated.metadata["http_cache"] == "revalidated"
    assert site.hits["/fresh"] == 2 and site.not_modified["/fresh"] == 1
    assert row.cache.hits == 2


async def test_no_store_answers_are_fetched_every_time(make_hub: HubFactory, site: Site) -> None:
    async with make_hub() as hub:
        for _ in range(2):
            page = await hub.tool("site").call("fetch", url="/nostore")
            assert page.metadata["http_cache"] == "miss"
    assert site.hits["/nostore"] == 2


async def test_a_retry_and_a_core_cache_hit_are_counted_in_metrics(
    make_hub: HubFactory, site: Site
) -> None:
    ops = {"flaky": {"url": "/api/flaky", "cache": True, "required_fields": ["items"]}}
    hub = make_hub(operations=ops, retry={"max_attempts": 3, "initial": 0.01, "cap": 0.02})
    async with hub:
        tool = hub.tool("site")
        first = await tool.call("flaky")
        second = await tool.call("flaky")
        row = hub.metrics().for_model("site", None)
    assert first.output == second.output == {"items": ["ok"], "total": 1}
    assert (first.attempts, first.cached) == (2, False)
    assert (second.attempts, second.cached) == (0, True)
    assert site.hits["/api/flaky"] == 2
    assert row.retries.scheduled == 1 and row.retries.succeeded_after_retry == 1
    assert row.attempt_errors == {"transient": 1}
    assert (row.cache.hits, row.cache.misses) == (1, 1)
    assert row.succeeded == 2


# --- politeness and the tool interface ------------------------------------------------------


async def test_limits_apply_per_host(make_hub: HubFactory, site: Site) -> None:
    ops = {"slowish": {"url": "/api/slowish"}}
    async with make_hub(limits={"max_concurrency": 1}, operations=ops) as hub:
        tool = hub.tool("site")
        await asyncio.gather(*(tool.call("slowish") for _ in range(4)))
        await tool.call("fetch", url=f"http://localhost:{site.port}/article")
        partitions = set(hub.runtime("site").limiters())
    assert site.max_in_flight == 1  # one request at a time to this host
    assert partitions == {"127.0.0.1", "localhost"}


async def test_operations_are_listed_and_unknown_ones_refused_without_a_request(
    make_hub: HubFactory, site: Site
) -> None:
    async with make_hub(operations={"search": SEARCH, "article": ARTICLE}) as hub:
        tool = hub.tool("site")
        listed = {info.name: info for info in await tool.list()}
        with pytest.raises(InvalidRequestError, match="no operation 'serch'") as unknown:
            await tool.call("serch", q="x")
        with pytest.raises(InvalidRequestError, match="needs argument"):
            await tool.call("search")
    assert sorted(listed) == ["article", "fetch", "search"]
    search = listed["search"].input_schema
    assert search is not None and search["required"] == ["q"]
    assert unknown.value.attempts == 0
    assert sum(site.hits.values()) == 0


async def test_a_cancelled_fetch_leaves_no_task(make_hub: HubFactory) -> None:
    async with make_hub() as hub:
        before = asyncio.all_tasks()
        task = asyncio.ensure_future(hub.tool("site").call("fetch", url="/slow"))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.01)
        leftover = [t for t in asyncio.all_tasks() - before if not t.done() and not _server_side(t)]
    assert not leftover, leftover


def _server_side(task: asyncio.Task[Any]) -> bool:
    """The test site runs in this loop too; its request handlers are not the client's tasks."""
    name: str = getattr(task.get_coro(), "__qualname__", "")
    return name.startswith("RequestHandler.")


async def test_every_failure_is_a_classified_patchwire_error(make_hub: HubFactory) -> None:
    urls = ["/missing", "/image.png", "/loop", "/private/report", "http://127.0.0.1:9/closed"]
    async with make_hub(max_redirects=1) as hub:
        outcomes = await asyncio.gather(
            *(hub.tool("site").call("fetch", url=u) for u in urls), return_exceptions=True
        )
    assert all(isinstance(o, PatchwireError) for o in outcomes), outcomes
