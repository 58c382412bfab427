"""The conformance suite, run against the web connector and a local JSON endpoint.

Integration: real HTTP on loopback, real time.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.testing.conformance import (
    SECRET,
    ConnectorConformance,
    InstalledPluginChecks,
    Scenario,
)
from patchwire_web.plugin import plugin

pytestmark = pytest.mark.integration


def _endpoint(scenario: Scenario) -> web.Application:
    rng = random.Random(11)
    wanted = "a-different-key-entirely" if scenario is Scenario.AUTH_ERROR else SECRET

    async def thing(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {wanted}":
            return web.json_response({"error": {"message": "invalid api key"}}, status=401)
        if scenario is Scenario.SERVER_ERROR:
            return web.json_response({"error": {"message": "upstream broke"}}, status=500)
        if scenario is Scenario.HANG:
            await asyncio.sleep(3600)
        if scenario is Scenario.MIXED:
            status = rng.choice([200, 200, 500, 503, 429])
            if status != 200:
                headers = {"Retry-After": "0.01"} if status == 429 else {}
                return web.json_response({"error": "fault"}, status=status, headers=headers)
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_get("/thing", thing)
    return app


class TestWebConformance(ConnectorConformance):
    @pytest.fixture
    def conformance_host(self, plugin_host: PluginHost) -> PluginHost:
        plugin_host.register(plugin, "web")
        return plugin_host

    async def make_hub(self, scenario: Scenario, host: PluginHost) -> AsyncIterator[Hub]:
        # Handlers are cancelled when the client goes, so a hanging one leaves no task.
        runner = web.AppRunner(_endpoint(scenario), shutdown_timeout=0.1, handler_cancellation=True)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            yield Hub.from_dict(
                {
                    "connectors": {
                        self.connector_name: {
                            "type": "web",
                            "base_url": f"http://127.0.0.1:{port}",
                            "allow_private": True,
                            "api_key": f"env:{self.CREDENTIAL_ENV}",
                            "timeout": self.ATTEMPT_TIMEOUT,
                            "retry": {
                                "max_attempts": self.MAX_ATTEMPTS,
                                "initial": 0.01,
                                "cap": 0.05,
                            },
                            "operations": {"get": {"url": "/thing", "required_fields": ["ok"]}},
                        }
                    }
                },
                host=host,
            )
        finally:
            await runner.cleanup()

    async def call(self, hub: Hub) -> Any:
        return await hub.tool(self.connector_name).call("get")


class TestWebPlugin(InstalledPluginChecks):
    plugin = plugin
    connector_type = "web"
