"""A completion asks whether its principal has budgets only when it has a principal
(issue 19: no method call for the service's own calls). A principal set by acting_for,
not passed, must still be held to its budget; calls without one never are."""

from __future__ import annotations

import pytest
from patchwire import Principal, QuotaExhaustedError
from patchwire.clock import VirtualClock
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.testing import FakeScript

ALICE = Principal("alice", tags={"plan": "free"})


async def test_budgets_hold_for_an_acting_principal_and_not_for_the_service(
    plugin_host: PluginHost, fake_scripts: dict[str, FakeScript]
) -> None:
    script = fake_scripts["fake"] = FakeScript(default="ok")
    config = {
        "connectors": {"fake": {"cache": {"ttl": 0}}},
        "principals": {
            "tags": ["plan"],
            "budgets": {"free": {"tag": "plan=free", "requests_per_minute": 2}},
        },
    }
    async with Hub.from_dict(config, host=plugin_host, clock=VirtualClock(start=1.0)) as hub:
        model = hub.model("fake:m")
        async with hub.acting_for(ALICE):
            await model.complete("one")
            await model.complete("two")
            with pytest.raises(QuotaExhaustedError):
                await model.complete("three")
        with pytest.raises(QuotaExhaustedError):
            await model.complete("four", principal=ALICE)
        for _ in range(5):  # the service's own calls have no budget
            await model.complete("service")
    assert len(script.calls) == 7
