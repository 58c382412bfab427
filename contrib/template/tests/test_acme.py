"""The template's tests: a loopback Acme server, and patchwire's conformance suite.

Copy this pattern for your own connector: a small aiohttp server that speaks your
provider's real wire format (success, errors, hangs), and a ConnectorConformance subclass.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from patchwire.errors import QuotaExhaustedError
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.testing.conformance import ConnectorConformance, Scenario
from patchwire_acme.plugin import AcmePlugin

pytestmark = pytest.mark.integration  # real HTTP over loopback


def acme_app(scenario: Scenario, key: str) -> web.Application:
    count = 0

    async def generate(request: web.Request) -> web.Response:
        nonlocal count
        count += 1
        if (
            request.headers.get("Authorization") != f"Bearer {key}"
            or scenario is Scenario.AUTH_ERROR
        ):
            return web.json_response(
                {"error": {"type": "auth", "message": "unknown key"}}, status=401
            )
        if scenario is Scenario.SERVER_ERROR or (scenario is Scenario.MIXED and count % 3 == 0):
            return web.json_response(
                {"error": {"type": "busy", "message": "try later"}}, status=503
            )
        if scenario is Scenario.HANG:
            await asyncio.sleep(3600)
        body = await request.json()
        if body["prompt"] == "no credit":
            return web.json_response(
                {"error": {"type": "no_credit", "message": "top up"}}, status=402
            )
        return web.json_response({"output": body["prompt"].upper(), "usage": {"in": 3, "out": 2}})

    app = web.Application()
    app.router.add_post("/v1/generate", generate)
    return app


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    # handler_cancellation: a client that gives up also ends the server's handler, and a
    # short shutdown_timeout keeps cleanup from waiting on handlers that hang on purpose.
    runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}/v1"


class TestAcmeConformance(ConnectorConformance):
    @pytest.fixture
    def conformance_host(self, plugin_host: PluginHost) -> PluginHost:
        plugin_host.register(AcmePlugin(), "acme")
        return plugin_host

    async def make_hub(self, scenario: Scenario, host: PluginHost) -> AsyncIterator[Hub]:
        from patchwire.testing.conformance import SECRET

        runner, url = await serve(acme_app(scenario, SECRET))
        table: dict[str, Any] = {
            "type": "acme",
            "base_url": url,
            "api_key": f"env:{self.CREDENTIAL_ENV}",
            "timeout": self.ATTEMPT_TIMEOUT,
            "retry": {"max_attempts": self.MAX_ATTEMPTS, "initial": 0.01, "cap": 0.05},
        }
        try:
            yield Hub.from_dict({"connectors": {self.connector_name: table}}, host=host)
        finally:
            await runner.cleanup()

    async def call(self, hub: Hub) -> Any:
        return await hub.model(f"{self.connector_name}:acme-small").complete("hello")


async def test_no_credit_is_quota_exhausted_and_priced_reply(plugin_host, monkeypatch):
    plugin_host.register(AcmePlugin(), "acme")
    monkeypatch.setenv("ACME_API_KEY", "acme-test-key")
    runner, url = await serve(acme_app(Scenario.OK, "acme-test-key"))
    try:
        async with Hub.from_dict(
            {"connectors": {"acme": {"base_url": url}}}, host=plugin_host
        ) as hub:
            reply = await hub.model("acme:acme-small").complete("shout")
            with pytest.raises(QuotaExhaustedError) as info:
                await hub.model("acme:acme-small").complete("no credit")
    finally:
        await runner.cleanup()
    assert reply.text == "SHOUT" and reply.cost == pytest.approx((3 * 0.10 + 2 * 0.40) / 1e6)
    assert info.value.attempts == 1 and info.value.code == "no_credit"
