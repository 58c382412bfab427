"""The conformance suite run against the fake connector, so the suite itself is tested."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from typing import Any

from patchwire.errors import AuthError, RateLimitedError, TransientError
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.testing import FakeConnector, FakeScript, Hang
from patchwire.testing.conformance import ConnectorConformance, Scenario


class TestFakeConformance(ConnectorConformance):
    async def make_hub(self, scenario: Scenario, host: PluginHost) -> AsyncIterator[Hub]:
        script = FakeScript()
        rng = random.Random(3)
        if scenario is Scenario.SERVER_ERROR:
            script.default = lambda request, attempt: TransientError(
                "HTTP 500 from upstream", status=500
            )
        elif scenario is Scenario.AUTH_ERROR:
            script.default = lambda request, attempt: AuthError("invalid api key", status=401)
        elif scenario is Scenario.HANG:
            script.default = Hang()
        elif scenario is Scenario.MIXED:
            script.default = lambda request, attempt: rng.choice(
                ["ok", TransientError("flaky"), RateLimitedError("slow down", retry_after=0.01)]
            )
        FakeConnector.scripts[self.connector_name] = script
        yield Hub.from_dict(
            {
                "connectors": {
                    self.connector_name: {
                        "type": "fake",
                        "api_key": f"env:{self.CREDENTIAL_ENV}",
                        "timeout": self.ATTEMPT_TIMEOUT,
                        "retry": {"max_attempts": self.MAX_ATTEMPTS, "initial": 0.01, "cap": 0.05},
                    }
                }
            },
            host=host,
        )
        FakeConnector.scripts.pop(self.connector_name, None)

    async def call(self, hub: Hub) -> Any:
        return await hub.model(f"{self.connector_name}:m").complete("hello")
