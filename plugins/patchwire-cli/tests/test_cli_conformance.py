"""The conformance suite, run against the cli connector driving real python programs.

Integration: real subprocesses on real time.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.testing.conformance import ConnectorConformance, InstalledPluginChecks, Scenario
from patchwire_cli.plugin import plugin

pytestmark = pytest.mark.integration

# One program per scenario; EX_TEMPFAIL (75) and EX_IOERR (74) are transient, EX_NOPERM (77) auth.
_SCRIPTS = {
    Scenario.OK: "print('ok')",
    Scenario.SERVER_ERROR: "import sys; sys.exit(75)",
    Scenario.AUTH_ERROR: (
        "import os, sys\n"
        "token = os.environ['SERVICE_TOKEN']\n"
        "if token != 'the-token-this-service-wants':\n"
        "    sys.stderr.write('token ' + token + ' refused')\n"
        "    sys.exit(77)\n"
        "print('ok')"
    ),
    Scenario.HANG: "import time; time.sleep(60)",
    Scenario.MIXED: "import random, sys; sys.exit(random.choice([0, 0, 0, 75, 74, 77]))",
}


class TestCliConformance(ConnectorConformance):
    @pytest.fixture
    def conformance_host(self, plugin_host: PluginHost) -> PluginHost:
        plugin_host.register(plugin, "cli")
        return plugin_host

    async def make_hub(self, scenario: Scenario, host: PluginHost) -> AsyncIterator[Hub]:
        yield Hub.from_dict(
            {
                "connectors": {
                    self.connector_name: {
                        "type": "cli",
                        "timeout": self.ATTEMPT_TIMEOUT,
                        "retry": {"max_attempts": self.MAX_ATTEMPTS, "initial": 0.01, "cap": 0.05},
                        "kill_grace": 0.2,
                        "env_secrets": {"SERVICE_TOKEN": f"env:{self.CREDENTIAL_ENV}"},
                        "commands": {
                            "run": {"argv": [sys.executable, "-S", "-c", _SCRIPTS[scenario]]}
                        },
                    }
                }
            },
            host=host,
        )

    async def call(self, hub: Hub) -> Any:
        return await hub.tool(self.connector_name).call("run")


class TestCliPlugin(InstalledPluginChecks):
    plugin = plugin
    connector_type = "cli"
