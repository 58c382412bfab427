"""The conformance suite, run against the cli connector driving real python programs.

Integration: real subprocesses on real time.
"""

from __future__ import annotations

import sys
import tempfile
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
}

# MIXED: the n-th program started exits with the n-th code of a fixed cycle (n is the first
# number it can claim as a file in the hub's own folder), so a run's mix of outcomes is the
# same every time; which call meets which code still follows the scheduler.
_MIXED = (
    "import os, sys\n"
    "n = 0\n"
    "while True:\n"
    "    try:\n"
    "        os.close(os.open(os.path.join({folder!r}, str(n)), os.O_CREAT | os.O_EXCL))\n"
    "        break\n"
    "    except FileExistsError:\n"
    "        n += 1\n"
    "sys.exit([0, 75, 0, 74, 0, 77][n % 6])"
)


class TestCliConformance(ConnectorConformance):
    @pytest.fixture
    def conformance_host(self, plugin_host: PluginHost) -> PluginHost:
        plugin_host.register(plugin, "cli")
        return plugin_host

    async def make_hub(self, scenario: Scenario, host: PluginHost) -> AsyncIterator[Hub]:
        with tempfile.TemporaryDirectory() as folder:
            script = (
                _MIXED.format(folder=folder) if scenario is Scenario.MIXED else _SCRIPTS[scenario]
            )
            yield self._hub(script, host)

    def _hub(self, script: str, host: PluginHost) -> Hub:
        return Hub.from_dict(
            {
                "connectors": {
                    self.connector_name: {
                        "type": "cli",
                        "timeout": self.ATTEMPT_TIMEOUT,
                        "retry": {"max_attempts": self.MAX_ATTEMPTS, "initial": 0.01, "cap": 0.05},
                        "kill_grace": 0.2,
                        "env_secrets": {"SERVICE_TOKEN": f"env:{self.CREDENTIAL_ENV}"},
                        "commands": {"run": {"argv": [sys.executable, "-S", "-c", script]}},
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
