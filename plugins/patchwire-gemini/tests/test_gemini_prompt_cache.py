"""Implicit prompt caching through the hub against the simulator (issue 22): Gemini
reports a repeated prefix above the model's minimum in
``usageMetadata.cachedContentTokenCount``, a part of ``promptTokenCount``, and the bill
charges it at the cached rate.

gemini-2.5-flash (minimum 1024 tokens): $0.30 input, $0.03 cached, $2.50 output per
million tokens. The system instruction is 4400 characters: 1100 simulated tokens.
"""

from __future__ import annotations

from typing import Any

import pytest
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.testing.simulator import Simulator
from patchwire_gemini.plugin import GeminiPlugin
from patchwire_gemini.simwire import cache_minimum

pytestmark = pytest.mark.integration  # real server, real clock

KEY = "gemini-test-key-0d1e"
SYSTEM = "x" * 4400


@pytest.fixture
def host(plugin_host: PluginHost, monkeypatch: pytest.MonkeyPatch) -> PluginHost:
    monkeypatch.setenv("GEMINI_TEST_KEY", KEY)
    plugin_host.register(GeminiPlugin(), "gemini")
    return plugin_host


def _messages(user: str) -> list[dict[str, Any]]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


async def test_a_repeated_prefix_is_read_from_the_cache_and_billed_at_the_cached_rate(
    host: PluginHost, gemini_spec: Any
) -> None:
    async with Simulator("gemini", keys=[KEY], plugin_host=host) as sim:
        table = {"base_url": sim.base_url, "api_key": "env:GEMINI_TEST_KEY", "cache": {"ttl": 0}}
        async with Hub.from_dict({"connectors": {"gemini": table}}, host=host) as hub:
            model = hub.model("gemini:gemini-2.5-flash")
            first = await model.complete(_messages("hello"))
            second = await model.complete(_messages("goodbye"))
            chunks = [c async for c in model.stream(_messages("again"))]
    # 1100 (system instruction) + 2 (user) prompt tokens each time.
    assert first.usage.input_tokens == 1102 and first.usage.cached_input_tokens == 0
    assert second.usage.input_tokens == 1102 and second.usage.cached_input_tokens == 1100
    assert second.raw["usageMetadata"]["cachedContentTokenCount"] == 1100
    gemini_spec.validate("GenerateContentResponse", second.raw)
    assert second.cost is not None
    breakdown = second.cost.breakdown
    assert breakdown["cache_read"] == pytest.approx(1100 * 0.03e-6, abs=1e-12)  # $0.000033
    assert breakdown["input"] == pytest.approx(2 * 0.30e-6, abs=1e-12)
    output = second.usage.output_tokens * 2.50e-6
    assert float(second.cost) == pytest.approx(33e-6 + 0.6e-6 + output, abs=1e-12)
    last = chunks[-1].usage
    assert last is not None and last.cached_input_tokens == 1100  # the stream's totals


def test_minimum_by_model() -> None:
    assert cache_minimum("gemini-2.5-flash") == 1024
    assert cache_minimum("gemini-2.5-flash-lite") == 2048
    assert cache_minimum("gemini-2.5-pro") == 4096
