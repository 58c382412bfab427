"""Cost by rule through the whole pipeline against the providers' simulators on loopback
(integration: real sockets and the real clock): the usage parsers fill the fields the
pricing rules read, and ``reply.cost`` is the table's bill of the reply's usage."""

from __future__ import annotations

import pytest
from patchwire.hub import Hub
from patchwire.plugins import default_host
from patchwire.prices import Cost
from patchwire.testing.simulator import Simulator

pytestmark = pytest.mark.integration

KEY = "sk-pricing-test-key"


@pytest.mark.parametrize(
    ("wire", "model", "tier"),
    [("openai", "gpt-4o-mini", "default"), ("anthropic", "claude-haiku-4-5", "standard")],
)
async def test_a_simulated_reply_is_billed_by_rule_with_the_tier_it_names(
    monkeypatch: pytest.MonkeyPatch, wire: str, model: str, tier: str
) -> None:
    monkeypatch.setenv("PRICING_SIM_KEY", KEY)
    host = default_host()
    async with Simulator(wire, plugin_host=host, keys=[KEY]) as sim:
        config = {
            "connectors": {
                wire: {"base_url": sim.base_url, "api_key": "env:PRICING_SIM_KEY", "timeout": 5}
            }
        }
        async with Hub.from_dict(config, host=host) as hub:
            handle = hub.model(f"{wire}:{model}")
            reply = await handle.complete("hello", max_tokens=30, cache=False)
            chunks = [c async for c in handle.stream("hello", max_tokens=30)]
            expected = hub.prices.bill(wire, model, reply.usage)
    assert reply.usage.service_tier == tier
    assert chunks[-1].usage is not None and chunks[-1].usage.service_tier == tier
    assert isinstance(reply.cost, Cost) and reply.cost == expected.total
    assert dict(reply.cost.breakdown) == dict(expected.charges)
    assert set(reply.cost.breakdown) >= {"input", "output"} and reply.cost.currency == "USD"
