"""Prompt caching through the hub against the simulator (issue 22): the connector's
``prompt_cache`` setting puts ``cache_control`` breakpoints on the system prompt and the
last tool; the first call writes the prefix (``cache_creation_input_tokens``, split by
TTL in ``cache_creation``), a later one reads it (``cache_read_input_tokens``), and the
bill charges each at its rule's rate.

claude-sonnet-4-5 (minimum cacheable prefix 1024 tokens): $3 input, $15 output, $0.30
cache read, $3.75 five-minute write (1.25x), $6 one-hour write (2x) per million tokens.
The system prompt is 4400 characters: 1100 simulated tokens.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from patchwire.errors import ConfigError
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.testing.simulator import Simulator
from patchwire_anthropic.wire import cache_minimum

pytestmark = pytest.mark.integration  # real server, real clock

SYSTEM = "x" * 4400
MODEL = "anthropic:claude-sonnet-4-5"


def _messages(user: str) -> list[dict[str, Any]]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def _table(sim: Simulator, prompt_cache: str) -> dict[str, Any]:
    return {
        "anthropic": {
            "base_url": sim.base_url,
            "api_key": "env:ANTHROPIC_SIM_KEY",
            "cache": {"ttl": 0},
            "prompt_cache": prompt_cache,
        }
    }


@pytest.mark.parametrize(("setting", "rule", "rate"), [("5m", "5m", 3.75), ("1h", "1h", 6.0)])
async def test_the_first_call_writes_the_prefix_and_the_next_reads_it(
    anthropic_host: PluginHost,
    key: str,
    setting: str,
    rule: str,
    rate: float,
    validate: Any,
    fits_spec: Any,
) -> None:
    async with Simulator("anthropic", plugin_host=anthropic_host) as sim:
        config = {"connectors": _table(sim, setting)}
        async with Hub.from_dict(config, host=anthropic_host) as hub:
            model = hub.model(MODEL)
            first = await model.complete(_messages("hello"))
            second = await model.complete(_messages("goodbye"))
            chunks = [c async for c in model.stream(_messages("again"))]
        sent = sim.journal[0].request
        raw = second.raw
        fits_spec(json.loads(sim.journal[0].body))  # the breakpoint as the spec spells it
    assert sent is not None and sent.cache_plan is not None
    # The system prompt went as one text block with the breakpoint.
    assert sent.cache_plan.blocks[0].breakpoint == (300.0 if rule == "5m" else 3600.0)
    # 1100 (system) + 5 (user with framing) prompt tokens; the 1100 are written, then read.
    assert first.usage.input_tokens == 1105 and first.usage.cache_creation_input_tokens == 1100
    assert first.usage.cache_creation_1h_input_tokens == (1100 if rule == "1h" else 0)
    assert first.cost is not None
    assert first.cost.breakdown[f"cache_write_{rule}"] == pytest.approx(
        1100 * rate * 1e-6, abs=1e-12
    )
    assert first.cost.breakdown["input"] == pytest.approx(5 * 3e-6, abs=1e-12)
    output = first.usage.output_tokens * 15e-6
    assert float(first.cost) == pytest.approx(1100 * rate * 1e-6 + 15e-6 + output, abs=1e-12)
    # The wire's input_tokens leaves the cached part out, as the real API does.
    assert raw["usage"]["input_tokens"] == 5 and raw["usage"]["cache_read_input_tokens"] == 1100
    validate("Message", first.raw)
    validate("Message", raw)
    assert second.usage.input_tokens == 1105 and second.usage.cached_input_tokens == 1100
    assert second.usage.cache_creation_input_tokens == 0
    assert second.cost is not None
    assert second.cost.breakdown["cache_read"] == pytest.approx(1100 * 0.30e-6, abs=1e-12)
    assert set(second.cost.breakdown) == {"input", "cache_read", "output"}
    last = chunks[-1].usage
    assert last is not None and last.cached_input_tokens == 1100 and last.input_tokens == 1105


async def test_without_the_setting_nothing_is_cached_and_tools_get_the_breakpoint(
    anthropic_host: PluginHost, key: str
) -> None:
    def lookup(city: str) -> str:
        """Look a city up.

        Args:
            city: the city
        """
        return city

    async with Simulator("anthropic", plugin_host=anthropic_host) as sim:
        config = {"connectors": _table(sim, "off")}
        async with Hub.from_dict(config, host=anthropic_host) as hub:
            replies = [await hub.model(MODEL).complete(_messages("hi")) for _ in range(2)]
        config = {"connectors": _table(sim, "5m")}
        async with Hub.from_dict(config, host=anthropic_host) as hub:
            await hub.model(MODEL).complete(_messages("hi"), tools=[lookup])
        body = sim.journal[-1].body
    assert [r.usage.cached_input_tokens + r.usage.cache_creation_input_tokens for r in replies] == [
        0,
        0,
    ]
    sent = json.loads(body)
    assert sent["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    assert sent["system"][0]["cache_control"] == {"type": "ephemeral"}


def test_prompt_cache_setting_is_checked(anthropic_host: PluginHost, key: str) -> None:
    table = {"anthropic": {"api_key": "env:ANTHROPIC_SIM_KEY", "prompt_cache": "10m"}}
    with pytest.raises(ConfigError, match="prompt_cache"):
        Hub.from_dict({"connectors": table}, host=anthropic_host)


def test_minimum_cacheable_prefix_by_model() -> None:
    assert cache_minimum("claude-haiku-4-5") == 4096
    assert cache_minimum("claude-sonnet-4-6") == 2048
    assert cache_minimum("claude-sonnet-4-5-20250929") == 1024


async def test_breakpoints_are_checked_as_the_api_checks_them(
    anthropic_host: PluginHost, key: str
) -> None:
    block = {"type": "text", "text": "x", "cache_control": {"type": "ephemeral"}}
    hour = {**block, "cache_control": {"type": "ephemeral", "ttl": "1h"}}
    bodies = {
        "A maximum of 4 blocks": [block] * 5,
        "must not come after": [block, hour],
        "Input should be '5m' or '1h'": [
            {**block, "cache_control": {"type": "ephemeral", "ttl": "2h"}}
        ],
    }
    async with Simulator("anthropic", plugin_host=anthropic_host) as sim:
        async with aiohttp.ClientSession() as session:
            for message, system in bodies.items():
                body = {
                    "model": "claude-sonnet-4-5",
                    "max_tokens": 10,
                    "system": system,
                    "messages": [{"role": "user", "content": "hi"}],
                }
                async with session.post(
                    sim.base_url + "/messages", json=body, headers={"x-api-key": key}
                ) as resp:
                    error = await resp.json()
                assert resp.status == 400 and message in error["error"]["message"], error


async def test_the_official_sdk_reads_cache_writes_and_reads(
    anthropic_host: PluginHost, key: str
) -> None:
    anthropic = pytest.importorskip("anthropic")
    system = [{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral", "ttl": "1h"}}]
    async with Simulator("anthropic", plugin_host=anthropic_host) as sim:
        client = anthropic.AsyncAnthropic(base_url=sim.root_url, api_key=key, max_retries=0)
        first = await client.messages.create(
            model="claude-sonnet-4-5",
            max_tokens=32,
            system=system,
            messages=[{"role": "user", "content": "hello"}],
        )
        async with client.messages.stream(
            model="claude-sonnet-4-5",
            max_tokens=32,
            system=system,
            messages=[{"role": "user", "content": "again"}],
        ) as stream:
            final = await stream.get_final_message()
        await client.close()
    assert first.usage.cache_creation_input_tokens == 1100 and first.usage.input_tokens == 5
    assert first.usage.cache_creation is not None
    assert first.usage.cache_creation.ephemeral_1h_input_tokens == 1100
    assert final.usage.cache_read_input_tokens == 1100 and final.usage.input_tokens == 5
