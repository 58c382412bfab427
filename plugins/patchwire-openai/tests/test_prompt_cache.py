"""Prompt caching through the hub against the simulator (issue 22): OpenAI caches a
repeated prefix of 1024 tokens or more on its own and reports it in
``prompt_tokens_details.cached_tokens`` (128-token steps, part of ``prompt_tokens``);
the bill charges those tokens at the cached rate.

gpt-4o-mini: $0.15 input, $0.075 cached input, $0.60 output per million tokens. The
system prompt is 4400 characters: 1100 simulated tokens, 1103 with its message framing.
"""

from __future__ import annotations

from typing import Any

import pytest
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.testing.simulator import Simulator

pytestmark = pytest.mark.integration  # real server, real clock

SYSTEM = "x" * 4400


def _messages(user: str) -> list[dict[str, Any]]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


async def test_a_repeated_prefix_is_read_from_the_cache_and_billed_at_the_cached_rate(
    openai_host: PluginHost, sim_key: str, validate: Any
) -> None:
    async with Simulator("openai", plugin_host=openai_host) as sim:
        table = {"base_url": sim.base_url, "api_key": "env:OPENAI_SIM_KEY", "cache": {"ttl": 0}}
        async with Hub.from_dict({"connectors": {"openai": table}}, host=openai_host) as hub:
            model = hub.model("openai:gpt-4o-mini")
            first = await model.complete(_messages("hello"))
            second = await model.complete(_messages("goodbye"))
            chunks = [c async for c in model.stream(_messages("again"))]
    # 1103 (system) + 5 (user) + 3 (reply priming) prompt tokens each time.
    assert first.usage.input_tokens == 1111 and first.usage.cached_input_tokens == 0
    assert first.cost is not None and "cache_read" not in first.cost.breakdown
    # The system message's 1103 tokens were seen: 1024 of them are reported (8 x 128).
    assert second.usage.input_tokens == 1111 and second.usage.cached_input_tokens == 1024
    validate("CreateChatCompletionResponse", second.raw)  # the reply still fits the spec
    assert second.cost is not None
    breakdown = second.cost.breakdown
    assert breakdown["cache_read"] == pytest.approx(1024 * 0.075e-6, abs=1e-12)  # $0.0000768
    assert breakdown["input"] == pytest.approx(87 * 0.15e-6, abs=1e-12)  # $0.00001305
    output = second.usage.output_tokens * 0.60e-6
    assert float(second.cost) == pytest.approx(76.8e-6 + 13.05e-6 + output, abs=1e-12)
    assert second.cost.cache_savings == pytest.approx(1024 * 0.075e-6, abs=1e-12)
    last = chunks[-1].usage
    assert last is not None and last.cached_input_tokens == 1024  # streams report it too


async def test_short_prompts_and_other_keys_do_not_share_a_cache(
    openai_host: PluginHost, sim_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTHER_SIM_KEY", "sk-another-key")
    async with Simulator("openai", plugin_host=openai_host) as sim:
        table = {"base_url": sim.base_url, "api_key": "env:OPENAI_SIM_KEY", "cache": {"ttl": 0}}
        async with Hub.from_dict({"connectors": {"openai": table}}, host=openai_host) as hub:
            model = hub.model("openai:gpt-4o-mini")
            short = [await model.complete("a short prompt") for _ in range(2)]
            await model.complete(_messages("hello"))
        table["api_key"] = "env:OTHER_SIM_KEY"
        async with Hub.from_dict({"connectors": {"openai": table}}, host=openai_host) as hub:
            other = await hub.model("openai:gpt-4o-mini").complete(_messages("hello"))
    assert [r.usage.cached_input_tokens for r in short] == [0, 0]  # under 1024 tokens
    assert other.usage.cached_input_tokens == 0  # caches are per key


async def test_the_official_sdk_reads_cached_tokens(openai_host: PluginHost, sim_key: str) -> None:
    openai = pytest.importorskip("openai")
    async with Simulator("openai", plugin_host=openai_host) as sim:
        client = openai.AsyncOpenAI(base_url=sim.base_url, api_key=sim_key, max_retries=0)
        await client.chat.completions.create(model="gpt-4o-mini", messages=_messages("hello"))
        stream = await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=_messages("again"),
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
        await client.close()
    usage = chunks[-1].usage
    assert usage is not None and usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 1024 and usage.prompt_tokens == 1111
