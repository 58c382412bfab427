"""Rich calls on Anthropic through the whole pipeline against the simulator, under both API
versions: a two-turn tool exchange with a parallel call, tool choices, scripted calls,
structured output (native and forced tool), image and PDF parts, thinking kept across
turns (signatures checked by the simulator), streamed tool calls and thinking, sampling
knobs dropped per version; every request body fits the spec copy."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import attrs
import jsonschema
import pytest
from patchwire import (
    Document,
    Image,
    InvalidRequestError,
    Message,
    Model,
    Reasoning,
    StreamChunk,
    ToolCall,
    ToolResultPart,
)
from patchwire.events import EventKind
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.testing import rich_kit
from patchwire.testing.rich_kit import Forecast, get_time, get_weather
from patchwire.testing.sim_wire import SimRequest
from patchwire.testing.simulator import Simulator
from patchwire_anthropic.wire import AnthropicWire

pytestmark = pytest.mark.integration  # a real simulator on loopback

FitsSpec = Callable[[Any], None]
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
PDF = b"%PDF-1.7 minimal"
LEGACY = "2023-06-01"
VERSIONS = pytest.mark.parametrize("version", [None, LEGACY], ids=["2026-10-21", LEGACY])


class CapturingWire(rich_kit.CapturingWire, AnthropicWire):
    """The Anthropic simulator wire, keeping every request body in ``bodies``."""


@asynccontextmanager
async def served(
    host: PluginHost, wire: AnthropicWire, version: str | None = None, **options: Any
) -> AsyncIterator[Model]:
    """A simulator speaking ``wire`` and a hub's model pointed at it."""
    async with Simulator(wire, plugin_host=host, **options) as sim:
        async with hub_for(sim, host, version) as hub:
            yield hub.model("anthropic:claude-haiku-4-5")


def hub_for(sim: Simulator, host: PluginHost, version: str | None = None, **extra: Any) -> Hub:
    table: dict[str, Any] = {
        "base_url": sim.base_url,
        "api_key": "env:ANTHROPIC_SIM_KEY",
        "cache": {"ttl": 0},
        **extra,
    }
    if version is not None:
        table["api_version"] = version
    return Hub.from_dict({"connectors": {"anthropic": table}}, host=host)


def schema_of(body: Mapping[str, Any], name: str) -> Any:
    return next(t["input_schema"] for t in body["tools"] if t["name"] == name)


@VERSIONS
async def test_a_two_turn_tool_exchange_with_a_parallel_call(
    anthropic_host: PluginHost, key: str, fits_spec: FitsSpec, version: str | None
) -> None:
    wire = CapturingWire()
    async with served(anthropic_host, wire, version) as model:
        history = [Message("user", "Weather and time in Paris?")]
        first = await model.complete(history, tools=[get_weather, get_time])
        assert first.finish_reason == "tool_calls"
        assert [c.name for c in first.tool_calls] == ["get_weather", "get_time"]
        for call in first.tool_calls:
            assert call.id.startswith("toolu_") and call.provider == "anthropic"
            jsonschema.validate(call.arguments, schema_of(wire.bodies[0], call.name))
            assert json.loads(call.raw_arguments) == call.arguments
        results = [
            ToolResultPart.for_call(c, f"result of {c.name}", is_error=c.name == "get_time")
            for c in first.tool_calls
        ]
        history += [first.message, Message("tool", results)]
        second = await model.complete(history, tools=[get_weather, get_time])
    assert second.finish_reason == "stop" and second.tool_calls == () and second.text
    sent = wire.bodies[1]["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert [b["type"] for b in sent[1]["content"]] == ["tool_use", "tool_use"]
    assert [b["tool_use_id"] for b in sent[2]["content"]] == [c.id for c in first.tool_calls]
    assert [b.get("is_error", False) for b in sent[2]["content"]] == [False, True]
    for body in wire.bodies:
        fits_spec(body)


async def test_tool_choices_map_to_anthropic_and_the_simulator_obeys(
    anthropic_host: PluginHost, key: str, fits_spec: FitsSpec
) -> None:
    wire = CapturingWire()
    tools = [get_weather, get_time]
    async with served(anthropic_host, wire) as model:
        one = await model.complete("x", tools=tools, parallel_tool_calls=False)
        named = await model.complete("x", tools=tools, tool_choice="get_time")
        none = await model.complete("x", tools=tools, tool_choice="none")
        required = await model.complete("x", tools=tools, tool_choice="required")
    assert len(one.tool_calls) == 1
    assert [c.name for c in named.tool_calls] == ["get_time"]
    assert none.tool_calls == () and none.finish_reason == "stop"
    assert len(required.tool_calls) == 2
    choices = [b.get("tool_choice") for b in wire.bodies]
    assert choices == [
        {"type": "auto", "disable_parallel_tool_use": True},
        {"type": "tool", "name": "get_time"},
        {"type": "none"},
        {"type": "any"},
    ]
    for body in wire.bodies:
        fits_spec(body)


async def test_the_simulator_takes_the_shared_script_for_tools_and_arguments(
    anthropic_host: PluginHost, key: str
) -> None:
    def script(request: SimRequest) -> list[tuple[str, dict[str, Any]]] | None:
        if "twice" not in request.prompt:
            return None
        return [("get_weather", {"city": "Oslo"}), ("get_weather", {"city": "Rome", "days": 2})]

    async with served(anthropic_host, AnthropicWire(), tool_script=script) as model:
        reply = await model.complete("twice please", tools=[get_weather])
        default = await model.complete("once", tools=[get_weather])
    assert [c.arguments for c in reply.tool_calls] == [
        {"city": "Oslo"},
        {"city": "Rome", "days": 2},
    ]
    assert len(default.tool_calls) == 1 and "city" in default.tool_calls[0].arguments


@VERSIONS
async def test_structured_output_is_native_or_a_forced_tool_per_version(
    anthropic_host: PluginHost, key: str, fits_spec: FitsSpec, version: str | None
) -> None:
    wire = CapturingWire()
    async with served(anthropic_host, wire, version) as model:
        reply = await model.complete("Forecast?", output=Forecast)
        streamed = [c async for c in model.stream("Forecast?", output=Forecast)]
    assert isinstance(reply.parsed, Forecast) and reply.finish_reason == "stop"
    assert reply.tool_calls == ()
    assert json.loads("".join(c.text for c in streamed)) == attrs.asdict(reply.parsed)
    assert streamed[-1].finish_reason == "stop" and streamed[-1].tool_calls == ()
    body = wire.bodies[0]
    if version == LEGACY:
        assert "output_config" not in body
        assert body["tools"][0]["name"] == "Forecast"
        assert body["tool_choice"] == {
            "type": "tool",
            "name": "Forecast",
            "disable_parallel_tool_use": True,
        }
    else:
        schema = body["output_config"]["format"]["schema"]
        assert body["output_config"]["format"]["type"] == "json_schema"
        assert schema["additionalProperties"] is False and "tools" not in body
    for sent in wire.bodies:
        fits_spec(sent)


async def test_image_and_pdf_parts_are_sent_as_anthropic_blocks(
    anthropic_host: PluginHost, key: str, fits_spec: FitsSpec
) -> None:
    wire = CapturingWire()
    image = Image.from_bytes(PNG, "image/png")
    pdf = Document.from_bytes(PDF, filename="r.pdf")
    async with served(anthropic_host, wire) as model:
        reply = await model.complete([Message("user", ["What is this?", image, pdf])])
        by_url = await model.complete(
            [
                Message(
                    "user",
                    [
                        Image.from_url("https://example.test/cat.png"),
                        Document.from_url("https://example.test/a.pdf"),
                        "and these?",
                    ],
                )
            ]
        )
        with pytest.raises(InvalidRequestError, match="user messages and tool results only"):
            await model.complete([Message("assistant", ["look", image]), Message("user", "?")])
    assert reply.text and by_url.text
    assert len(wire.bodies) == 2  # the refusal happened before sending
    content = wire.bodies[0]["messages"][0]["content"]
    assert content[0] == {"type": "text", "text": "What is this?"}
    assert content[1]["source"]["type"] == "base64"
    assert content[1]["source"]["media_type"] == "image/png"
    assert content[2] == {"type": "document", "source": {**content[2]["source"]}}
    assert content[2]["source"]["media_type"] == "application/pdf"
    urls = wire.bodies[1]["messages"][0]["content"]
    assert urls[0]["source"] == {"type": "url", "url": "https://example.test/cat.png"}
    assert urls[1]["source"] == {"type": "url", "url": "https://example.test/a.pdf"}
    assert reply.usage.input_tokens > by_url.usage.input_tokens - 100  # media are counted
    for body in wire.bodies:
        fits_spec(body)


async def test_thinking_is_kept_across_turns_and_a_changed_signature_is_refused(
    anthropic_host: PluginHost, key: str, fits_spec: FitsSpec
) -> None:
    wire = CapturingWire(redacted_thinking=True)
    async with served(anthropic_host, wire) as model:
        history = [Message("user", "Weather in Paris?")]
        first = await model.complete(history, tools=[get_weather], reasoning="high")
        thinking, redacted = first.reasoning
        assert thinking.text and thinking.signature and thinking.provider == "anthropic"
        assert redacted.encrypted and not redacted.text
        assert first.usage.reasoning_tokens > 0
        assert first.usage.output_tokens > first.usage.reasoning_tokens  # included
        results = [ToolResultPart.for_call(c, "sunny") for c in first.tool_calls]
        history += [first.message, Message("user", results)]
        second = await model.complete(history, tools=[get_weather], reasoning="high")
        assert second.finish_reason == "stop" and second.text
        forged = Reasoning(
            thinking.text + " (edited)",
            signature=thinking.signature,
            provider="anthropic",
        )
        tampered = [
            history[0],
            Message("assistant", [forged, *first.tool_calls]),
            history[2],
        ]
        with pytest.raises(InvalidRequestError, match="signature"):
            await model.complete(tampered, tools=[get_weather], reasoning="high")
    first_budget = wire.bodies[0]["thinking"]
    assert first_budget == {"type": "enabled", "budget_tokens": 16384}
    assert wire.bodies[0]["max_tokens"] > first_budget["budget_tokens"]
    replayed = wire.bodies[1]["messages"][1]["content"]
    assert replayed[0] == {
        "type": "thinking",
        "thinking": thinking.text,
        "signature": thinking.signature,
    }
    assert replayed[1] == {"type": "redacted_thinking", "data": redacted.encrypted}
    for body in wire.bodies:
        fits_spec(body)


async def test_a_conversation_begun_on_another_provider_continues_here(
    anthropic_host: PluginHost, key: str, fits_spec: FitsSpec
) -> None:
    """Fallback mid-conversation: an OpenAI turn (its call ids, its reasoning) goes on
    on Anthropic; the calls and results map, the foreign reasoning is dropped."""
    wire = CapturingWire()
    foreign = Reasoning("openai's summary", encrypted="opaque", provider="openai")
    calls = [
        ToolCall("call_a1", "get_weather", {"city": "Oslo"}, provider="openai"),
        ToolCall("call_b2", "get_time", {"zone": "CET"}, provider="openai"),
    ]
    history = [
        Message("user", "Weather and time in Oslo?"),
        Message("assistant", [foreign, "Looking.", *calls]),
        Message("tool", [ToolResultPart.for_call(c, "fine") for c in calls]),
    ]
    async with served(anthropic_host, wire) as model:
        reply = await model.complete(history, tools=[get_weather, get_time])
    assert reply.text and reply.finish_reason == "stop"
    sent = wire.bodies[0]["messages"]
    assert sent[1]["content"] == [
        {"type": "text", "text": "Looking."},
        {"type": "tool_use", "id": "call_a1", "name": "get_weather", "input": {"city": "Oslo"}},
        {"type": "tool_use", "id": "call_b2", "name": "get_time", "input": {"zone": "CET"}},
    ]
    assert [b["tool_use_id"] for b in sent[2]["content"]] == ["call_a1", "call_b2"]
    fits_spec(wire.bodies[0])


async def test_a_stream_delivers_tool_call_and_thinking_deltas_and_the_turn_last(
    anthropic_host: PluginHost, key: str, fits_spec: FitsSpec
) -> None:
    wire = CapturingWire()
    async with served(anthropic_host, wire) as model:
        chunks: list[StreamChunk] = [
            c async for c in model.stream("Weather?", tools=[get_weather, get_time], reasoning=2000)
        ]
        whole = await model.complete("Weather?", tools=[get_weather, get_time], reasoning=2000)
    deltas = [d for c in chunks for d in c.tool_call_deltas]
    assert {d.index for d in deltas} == {0, 1}
    final = chunks[-1]
    assert final.finish_reason == "tool_calls"
    assert [c.name for c in final.tool_calls] == ["get_weather", "get_time"]
    for index, call in enumerate(final.tool_calls):
        pieces = "".join(d.arguments for d in deltas if d.index == index)
        assert json.loads(pieces) == call.arguments
        assert call.id == next(d.id for d in deltas if d.index == index and d.id)
    assert "".join(c.reasoning_text for c in chunks) == final.reasoning[0].text
    # The streamed turn is the whole turn: same calls, same signed thinking.
    assert final.tool_calls == whole.tool_calls and final.reasoning == whole.reasoning
    assert final.usage is not None and final.usage.reasoning_tokens > 0
    assert wire.bodies[0]["thinking"] == {"type": "enabled", "budget_tokens": 2000}
    fits_spec(wire.bodies[0])


async def test_sampling_knobs_are_dropped_under_the_current_version_and_sent_under_legacy(
    anthropic_host: PluginHost, key: str, fits_spec: FitsSpec
) -> None:
    wire = CapturingWire()
    seen: list[Any] = []
    async with Simulator(wire, plugin_host=anthropic_host) as sim:
        async with hub_for(sim, anthropic_host) as hub:
            hub.bus.add("test", seen.append)
            reply = await hub.model("anthropic:claude-haiku-4-5").complete(
                "hi", temperature=0.2, top_p=0.9, user="u-1"
            )
            dropped = dict(hub.runtime("anthropic").connector.dropped_params)
        async with hub_for(sim, anthropic_host, LEGACY) as legacy:
            await legacy.model("anthropic:claude-haiku-4-5").complete("hi", temperature=0.2)
    assert reply.text and dropped == {"temperature": 1, "top_p": 1}
    assert any(e.kind is EventKind.PARAM_DROPPED for e in seen)
    assert "temperature" not in wire.bodies[0] and "top_p" not in wire.bodies[0]
    assert wire.bodies[0]["metadata"] == {"user_id": "u-1"}
    assert wire.bodies[1]["temperature"] == 0.2
    for body in wire.bodies:
        fits_spec(body)


async def test_the_simulator_refuses_unanswered_tool_use_and_bad_blocks(
    anthropic_host: PluginHost, key: str
) -> None:
    import aiohttp

    async with Simulator(AnthropicWire(), plugin_host=anthropic_host, keys=[key]) as sim:
        url = sim.base_url + "/messages"
        headers = {"x-api-key": key, "anthropic-version": "2026-10-21"}
        use = {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}
        bad = [
            (
                [{"role": "assistant", "content": [use]}, {"role": "user", "content": "?"}],
                "tool_result",
            ),
            (
                [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "image",
                                "source": {
                                    "type": "base64",
                                    "media_type": "image/bmp",
                                    "data": "AA==",
                                },
                            }
                        ],
                    }
                ],
                "media_type",
            ),
            (
                [
                    {"role": "user", "content": "x"},
                    {
                        "role": "assistant",
                        "content": [{"type": "thinking", "thinking": "t", "signature": "forged"}],
                    },
                    {"role": "user", "content": "y"},
                ],
                "signature",
            ),
        ]
        async with aiohttp.ClientSession() as session:
            for messages, needle in bad:
                body = {"model": "m", "max_tokens": 50, "messages": messages}
                async with session.post(url, json=body, headers=headers) as resp:
                    assert resp.status == 400
                    assert needle in (await resp.json())["error"]["message"]
            open_tool = {"name": "f", "input_schema": {"type": "object"}, "strict": True}
            extras: list[tuple[dict[str, Any], str]] = [
                ({"tools": [open_tool]}, "additionalProperties"),
                ({"thinking": {"type": "enabled", "budget_tokens": 1024}}, "budget_tokens"),
                ({"tool_choice": {"type": "any"}}, "tools"),
                (
                    {
                        "output_config": {
                            "format": {"type": "json_schema", "schema": {"type": "object"}}
                        }
                    },
                    "additionalProperties",
                ),
            ]
            for extra, needle in extras:
                body = {
                    "model": "m",
                    "max_tokens": 50,
                    "messages": [{"role": "user", "content": "x"}],
                    **extra,
                }
                async with session.post(url, json=body, headers=headers) as resp:
                    assert resp.status == 400
                    assert needle in (await resp.json())["error"]["message"]


async def test_a_streamed_turn_with_redacted_thinking_replays_on_the_next_turn(
    anthropic_host: PluginHost, key: str
) -> None:
    wire = CapturingWire(redacted_thinking=True)
    async with served(anthropic_host, wire) as model:
        history = [Message("user", "Weather in Rome?")]
        chunks = [c async for c in model.stream(history, tools=[get_weather], reasoning="low")]
        final = chunks[-1]
        thinking, redacted = final.reasoning
        assert thinking.signature and redacted.encrypted
        results = [ToolResultPart.for_call(c, "warm") for c in final.tool_calls]
        turn = Message("assistant", final.parts)
        history += [turn, Message("user", results)]
        second = await model.complete(history, tools=[get_weather], reasoning="low")
    assert second.finish_reason == "stop"
    kinds = [b["type"] for b in wire.bodies[1]["messages"][1]["content"]]
    assert kinds == ["thinking", "redacted_thinking", "tool_use"]


@pytest.mark.parametrize(
    ("model", "adaptive"),
    [
        ("claude-opus-4-8", True),
        ("claude-sonnet-5-5-20261001", True),
        ("claude-fable-5", True),
        ("claude-opus-4-6", False),
        ("claude-haiku-4-5", False),
    ],
)
async def test_models_that_refuse_budgets_get_adaptive_thinking_with_an_effort(
    anthropic_host: PluginHost, key: str, fits_spec: FitsSpec, model: str, adaptive: bool
) -> None:
    wire = CapturingWire()
    async with Simulator(wire, plugin_host=anthropic_host) as sim:
        async with hub_for(sim, anthropic_host) as hub:
            reply = await hub.model(f"anthropic:{model}").complete(
                "Think about it", reasoning=5000, output=Forecast
            )
            off = await hub.model(f"anthropic:{model}").complete("Plain", reasoning=0)
    assert isinstance(reply.parsed, Forecast) and reply.reasoning[0].signature
    body = wire.bodies[0]
    if adaptive:
        assert body["thinking"] == {"type": "adaptive"}
        assert body["output_config"]["effort"] == "medium"
        assert "format" in body["output_config"]
        assert "thinking" not in wire.bodies[1]  # Fable 5 refuses an explicit "disabled"
    else:
        assert body["thinking"] == {"type": "enabled", "budget_tokens": 5000}
        assert "effort" not in body["output_config"]
        assert wire.bodies[1]["thinking"] == {"type": "disabled"}
    assert off.reasoning == ()
    for sent in wire.bodies:
        fits_spec(sent)
