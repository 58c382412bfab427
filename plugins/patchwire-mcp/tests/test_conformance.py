"""Core's conformance suite for the ``mcp`` connector, against the toolbox test server over
streamable HTTP (the transport that carries a credential). Each scenario is a server option:
its ``probe`` tool answers, fails with a JSON-RPC internal error, never answers, or mixes
those with isError results and late answers; the refused credential is a server that wants
another token. Integration tests: a real server on the real clock."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.testing.conformance import (
    SECRET,
    ConnectorConformance,
    InstalledPluginChecks,
    Scenario,
)
from patchwire_mcp.plugin import plugin

pytestmark = pytest.mark.integration

TOOLBOX = str(Path(__file__).parent / "servers" / "toolbox.py")


@contextlib.contextmanager
def serving(*options: str) -> Any:
    process = subprocess.Popen(
        [sys.executable, TOOLBOX, "http", *options], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        yield int(process.stdout.readline().split()[1])
    finally:
        process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()


class TestMcpConformance(ConnectorConformance):
    connector_name = "subject"

    async def make_hub(self, scenario: Scenario, host: PluginHost) -> AsyncIterator[Hub]:
        host.register(plugin, "patchwire-mcp")
        probe = {
            Scenario.SERVER_ERROR: "internal",
            Scenario.HANG: "hang",
            Scenario.MIXED: "mixed",
        }.get(scenario, "ok")
        # The server wants the suite's secret, except when the scenario is a refused one.
        token = "another-token" if scenario is Scenario.AUTH_ERROR else SECRET
        with serving("--probe", probe, "--token", token) as port:
            hub = Hub.from_dict(
                {
                    "connectors": {
                        self.connector_name: {
                            "type": "mcp",
                            "url": f"http://127.0.0.1:{port}/mcp",
                            "api_key": f"env:{self.CREDENTIAL_ENV}",
                            "timeout": self.ATTEMPT_TIMEOUT,
                            "retry": {"max_attempts": self.MAX_ATTEMPTS, "initial": 0.01},
                        }
                    }
                },
                host=host,
            )
            if scenario is Scenario.HANG:
                # The session is shared and long-lived by design: open it before the suite
                # counts the tasks a cancelled call might leave behind.
                await hub.tool(self.connector_name).list()
            yield hub
        host.unregister("patchwire-mcp")

    async def call(self, hub: Hub) -> Any:
        return await hub.tool(self.connector_name).call("probe")


class TestMcpPlugin(InstalledPluginChecks):
    plugin = plugin
    connector_type = "mcp"
