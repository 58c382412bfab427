"""The pipeline over real HTTP on loopback: an aiohttp server answering 503s, 429s with each
hint form, connection resets, hangs and malformed bodies. Every call ends in a result or a
classified PatchwireError (integration: real sockets and the real clock, short timeouts)."""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from patchwire.connector import Attempt, Capability, Connector
from patchwire.errors import Category, PatchwireError
from patchwire.hookspecs import hookimpl
from patchwire.http import send
from patchwire.hub import Hub
from patchwire.types import Completion, CompletionRequest, Usage

pytestmark = pytest.mark.integration


class PlainHttp(Connector):
    """A minimal JSON connector: POST {base_url}/answer, reply {"text": ...}."""

    type_name = "plainhttp"
    capabilities = frozenset({Capability.COMPLETE})

    async def complete(self, request: CompletionRequest, attempt: Attempt) -> Completion:
        response = await send(
            attempt,
            "POST",
            f"{self.ctx.config.base_url}/answer",
            json_body={"q": request.messages[-1].content},
        )
        data = response.json()
        return Completion(
            text=data["text"], usage=Usage(1, 1), request_id=response.headers.get("x-request-id")
        )


class Plugin:
    @hookimpl
    def patchwire_register_connectors(self, register: Any) -> None:
        register("plainhttp", PlainHttp)


def fault_app(script: list[str], seen: list[float]) -> web.Application:
    """Answers each request with the next behaviour in ``script`` (then successes)."""

    async def answer(request: web.Request) -> web.StreamResponse:
        seen.append(time.monotonic())
        kind = script.pop(0) if script else "ok"
        if kind == "503":
            return web.json_response({"error": {"message": "overloaded"}}, status=503)
        if kind == "500":
            return web.json_response(
                {"error": {"message": "boom"}}, status=500, headers={"x-request-id": "req_1"}
            )
        if kind == "429-ms":
            return web.json_response(
                {"error": "slow"}, status=429, headers={"retry-after-ms": "200"}
            )
        if kind == "429-s":
            return web.json_response({"error": "slow"}, status=429, headers={"retry-after": "1"})
        if kind == "429-date":
            when = email.utils.formatdate(time.time() + 2, usegmt=True)
            return web.json_response({"error": "slow"}, status=429, headers={"retry-after": when})
        if kind == "no-retry":
            return web.json_response(
                {"error": "stop"}, status=500, headers={"x-should-retry": "false"}
            )
        if kind == "reset":
            assert request.transport is not None
            request.transport.abort()
            return web.Response()
        if kind == "hang":
            await asyncio.sleep(3600)
        if kind == "malformed":
            return web.Response(text="<html>not json", content_type="application/json")
        if kind == "400":
            return web.json_response(
                {"error": {"message": "bad input", "type": "invalid_request_error"}}, status=400
            )
        return web.json_response({"text": f"answer to {(await request.json())['q']}"})

    app = web.Application()
    app.router.add_post("/answer", answer)
    return app


@pytest.fixture
async def server() -> AsyncIterator[Any]:
    runners: list[web.AppRunner] = []

    async def start(script: list[str]) -> tuple[str, list[float]]:
        seen: list[float] = []
        app = fault_app(script, seen)
        runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://127.0.0.1:{port}", seen

    yield start
    for runner in runners:
        await runner.cleanup()


def hub_for(plugin_host: Any, url: str, **table: Any) -> Hub:
    plugin_host.register(Plugin(), "plainhttp")
    base = {
        "type": "plainhttp",
        "base_url": url,
        # Generous, so a loaded machine cannot turn an answer into a timeout and change the
        # attempt counts asserted below; the hang test sets its own short timeout.
        "timeout": 5.0,
        "retry": {"max_attempts": 4, "initial": 0.01, "cap": 0.05},
    }
    return Hub.from_dict({"connectors": {"p": {**base, **table}}}, host=plugin_host)


@pytest.mark.parametrize(
    ("fault", "min_wait"),
    [("429-ms", 0.2), ("429-s", 1.0), ("429-date", 1.0)],
    ids=["retry-after-ms", "seconds", "http-date"],
)
async def test_each_retry_after_form_is_honoured(plugin_host, server, fault, min_wait):
    url, seen = await server([fault])
    async with hub_for(plugin_host, url) as hub:
        reply = await hub.model("p:m").complete("q")
    assert reply.text == "answer to q" and reply.attempts == 2
    assert seen[1] - seen[0] >= min_wait - 0.01


async def test_transient_faults_are_retried_to_success(plugin_host, server):
    url, seen = await server(["503", "reset", "500"])
    async with hub_for(plugin_host, url, breaker={"enabled": False}) as hub:
        reply = await hub.model("p:m").complete("q")
    assert reply.text == "answer to q" and reply.attempts == 4 and len(seen) == 4


async def test_hang_ends_at_the_attempt_timeout_as_degraded(plugin_host, server):
    url, _ = await server(["hang", "hang", "hang", "hang"])
    async with hub_for(plugin_host, url, timeout=0.3) as hub:
        start = time.monotonic()
        with pytest.raises(PatchwireError) as info:
            await hub.model("p:m").complete("q")
    assert info.value.category is Category.DEGRADED and info.value.attempts == 4
    # Each hang lasts an hour; a bound far below it shows every attempt was cut at its timeout
    # without making the test depend on how loaded the machine is.
    assert time.monotonic() - start < 30


async def test_permanent_and_server_said_no_are_not_retried(plugin_host, server):
    url, seen = await server(["400", "no-retry", "malformed"])
    async with hub_for(plugin_host, url) as hub:
        with pytest.raises(PatchwireError) as bad:
            await hub.model("p:m").complete("q")
        with pytest.raises(PatchwireError) as stop:
            await hub.model("p:m").complete("q")
        with pytest.raises(PatchwireError) as shape:
            await hub.model("p:m").complete("q")
    assert bad.value.category is Category.INVALID_REQUEST and bad.value.message == "bad input"
    assert stop.value.category is Category.TRANSIENT and stop.value.attempts == 1
    assert shape.value.category is Category.INTEGRATION and shape.value.attempts == 1
    assert len(seen) == 3


async def test_every_call_ends_in_a_result_or_a_classified_error(plugin_host, server):
    rng = random.Random(5)
    kinds = ["ok"] * 6 + ["503", "500", "429-ms", "reset", "hang", "malformed", "400", "no-retry"]
    script = [rng.choice(kinds) for _ in range(400)]
    url, _ = await server(script)
    async with hub_for(
        plugin_host,
        url,
        timeout=1.0,  # cuts the hangs; long enough that load does not cut the answers
        retry={"max_attempts": 3, "initial": 0.005, "cap": 0.02, "deadline": 10},
    ) as hub:
        outcomes = await asyncio.gather(
            *(hub.model("p:m").complete(f"q{i}") for i in range(120)), return_exceptions=True
        )
    ok = [o for o in outcomes if isinstance(o, Completion)]
    classified = [o for o in outcomes if isinstance(o, PatchwireError)]
    assert len(ok) + len(classified) == 120, [
        type(o) for o in outcomes if not isinstance(o, Completion | PatchwireError)
    ]
    assert ok


async def test_compressed_body_is_capped_by_its_inflated_size(plugin_host):
    """A small gzip body that inflates past max_body is refused, not read whole."""
    import gzip

    from patchwire.errors import IntegrationError

    bomb = gzip.compress(b"0" * (4 * 1024 * 1024))

    async def handler(request: web.Request) -> web.Response:
        return web.Response(
            body=bomb, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"}
        )

    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    from patchwire.clock import MonotonicClock
    from patchwire.connector import Attempt as At

    try:
        import aiohttp

        async with aiohttp.ClientSession() as session:
            with pytest.raises(IntegrationError, match="exceeds the 1048576-byte limit"):
                await send(
                    At(1, MonotonicClock(), session),
                    "GET",
                    f"http://127.0.0.1:{port}/",
                    max_body=1024 * 1024,
                )
    finally:
        await runner.cleanup()
