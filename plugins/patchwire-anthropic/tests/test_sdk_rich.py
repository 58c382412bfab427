"""The official anthropic SDK (2.17) parses the simulator's rich replies and streams: tool_use
blocks, signed thinking and redacted thinking, streamed input_json/thinking/signature
deltas assembled by its stream helper, and structured output through ``messages.parse``;
thinking blocks the SDK sends back are accepted on the next turn. Every reply and stream
event also validates against the spec copy."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from patchwire.plugins import PluginHost
from patchwire.testing.simulator import Simulator
from patchwire_anthropic.wire import AnthropicWire

anthropic = pytest.importorskip("anthropic", minversion="2.17")  # GA output_config, parse()
pydantic = pytest.importorskip("pydantic")
pytestmark = pytest.mark.integration

Validate = Callable[[str, Any], None]
WEATHER = {
    "name": "get_weather",
    "description": "Weather for a city.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city"],
    },
}
TIME = {
    "name": "get_time",
    "description": "The time in a zone.",
    "input_schema": {
        "type": "object",
        "properties": {"zone": {"type": "string"}},
        "required": ["zone"],
    },
}
THINKING = {"type": "enabled", "budget_tokens": 1024}


class Forecast(pydantic.BaseModel):  # type: ignore[misc,name-defined]
    city: str
    high: int


async def test_sdk_parses_tool_use_and_thinking_and_replays_them(
    anthropic_host: PluginHost, key: str
) -> None:
    wire = AnthropicWire(redacted_thinking=True)
    async with Simulator(wire, plugin_host=anthropic_host, keys=[key]) as sim:
        client = anthropic.AsyncAnthropic(base_url=sim.root_url, api_key=key, max_retries=0)
        ask = [{"role": "user", "content": "Weather and time in Paris?"}]
        first = await client.messages.create(
            model="claude-haiku-4-5",
            max_tokens=4096,
            messages=ask,
            tools=[WEATHER, TIME],
            thinking=THINKING,
        )
        kinds = [b.type for b in first.content]
        assert kinds == ["thinking", "redacted_thinking", "tool_use", "tool_use"]
        assert first.stop_reason == "tool_use" and first.content[0].signature
        calls = [b for b in first.content if b.type == "tool_use"]
        assert calls[0].input["city"] and calls[1].input["zone"]
        results = [
            {"type": "tool_result", "tool_use_id": c.id, "content": "ok", "is_error": False}
            for c in calls
        ]
        # The SDK's own blocks go back unchanged: the simulator checks the signatures.
        second = await client.messages.create(
            model="claude-haiku-4-5",
            max_tokens=4096,
            messages=[
                *ask,
                {"role": "assistant", "content": first.content},
                {"role": "user", "content": results},
            ],
            tools=[WEATHER, TIME],
            thinking=THINKING,
        )
        assert second.stop_reason == "end_turn"
        assert [b.type for b in second.content][-1] == "text"
        await client.close()


async def test_sdk_stream_helper_assembles_tool_input_and_signed_thinking(
    anthropic_host: PluginHost, key: str
) -> None:
    async with Simulator(AnthropicWire(), plugin_host=anthropic_host, keys=[key]) as sim:
        client = anthropic.AsyncAnthropic(base_url=sim.root_url, api_key=key, max_retries=0)
        kinds: set[str] = set()
        async with client.messages.stream(
            model="claude-haiku-4-5",
            max_tokens=4096,
            messages=[{"role": "user", "content": "Weather and time?"}],
            tools=[WEATHER, TIME],
            thinking=THINKING,
        ) as stream:
            async for event in stream:
                kinds.add(event.type)
            final = await stream.get_final_message()
        assert {"thinking", "signature", "input_json"} <= kinds
        thinking, *calls = final.content
        assert thinking.type == "thinking" and thinking.thinking and thinking.signature
        assert [c.name for c in calls] == ["get_weather", "get_time"]
        assert isinstance(calls[0].input, dict) and calls[0].input["city"]
        assert final.stop_reason == "tool_use" and final.usage.output_tokens > 0
        await client.close()


async def test_sdk_parse_gives_a_pydantic_instance(anthropic_host: PluginHost, key: str) -> None:
    async with Simulator(AnthropicWire(), plugin_host=anthropic_host, keys=[key]) as sim:
        client = anthropic.AsyncAnthropic(base_url=sim.root_url, api_key=key, max_retries=0)
        message = await client.messages.parse(
            model="claude-haiku-4-5",
            max_tokens=512,
            messages=[{"role": "user", "content": "Forecast for Oslo"}],
            output_format=Forecast,
        )
        assert isinstance(message.parsed_output, Forecast)
        await client.close()


async def test_rich_replies_and_stream_events_fit_the_spec(
    anthropic_host: PluginHost, key: str, validate: Validate
) -> None:
    wire = AnthropicWire(redacted_thinking=True)
    body = {
        "model": "claude-haiku-4-5",
        "max_tokens": 4096,
        "messages": [{"role": "user", "content": "Weather?"}],
        "tools": [WEATHER, TIME],
        "thinking": THINKING,
    }
    async with Simulator(wire, plugin_host=anthropic_host, keys=[key]) as sim:
        headers = {"x-api-key": key, "anthropic-version": "2026-10-21"}
        async with aiohttp.ClientSession() as session:
            async with session.post(sim.base_url + "/messages", json=body, headers=headers) as r:
                whole = await r.json()
            async with session.post(
                sim.base_url + "/messages", json={**body, "stream": True}, headers=headers
            ) as r:
                raw = (await r.read()).decode()
    validate("Message", whole)
    events = [
        json.loads(line.removeprefix("data: "))
        for line in raw.splitlines()
        if line.startswith("data: ")
    ]
    names = {
        "message_start": "MessageStartEvent",
        "content_block_start": "ContentBlockStartEvent",
        "content_block_delta": "ContentBlockDeltaEvent",
        "content_block_stop": "ContentBlockStopEvent",
        "message_delta": "MessageDeltaEvent",
        "message_stop": "MessageStopEvent",
    }
    deltas = set()
    for event in events:
        if event["type"] == "ping":
            continue
        validate(names[event["type"]], event)
        if event["type"] == "content_block_delta":
            deltas.add(event["delta"]["type"])
    assert deltas == {"thinking_delta", "signature_delta", "input_json_delta"}
