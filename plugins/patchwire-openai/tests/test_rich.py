"""Rich calls on OpenAI through the whole pipeline against the simulator: tool calls
(parallel, single, named, scripted), a second turn with results, structured output into
``parsed``, image and document parts, reasoning effort and tokens, streamed tool calls;
and every request body and reply fits the published spec."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import attrs
import jsonschema
import pytest
from patchwire import (
    Document,
    Image,
    InvalidRequestError,
    Message,
    StreamChunk,
    ToolCall,
    ToolResultPart,
    ToolSpec,
)
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.testing import rich_kit
from patchwire.testing.rich_kit import Forecast, get_time, get_weather
from patchwire.testing.sim_wire import SimRequest
from patchwire.testing.simulator import Simulator
from patchwire_openai.wire import OpenAIWire

pytestmark = pytest.mark.integration  # a real simulator on loopback

Validate = Callable[[str, Any], None]
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


class CapturingWire(rich_kit.CapturingWire, OpenAIWire):
    """The OpenAI simulator wire, keeping every request body in ``bodies``."""


@pytest.fixture
async def wire() -> AsyncIterator[CapturingWire]:
    yield CapturingWire()


async def _hub(sim: Simulator, host: PluginHost) -> Hub:
    table = {"base_url": sim.base_url, "api_key": "env:OPENAI_SIM_KEY", "cache": {"ttl": 0}}
    return Hub.from_dict({"connectors": {"openai": table}}, host=host)


def _schema_of(body: Any, name: str) -> Any:
    return next(t["function"]["parameters"] for t in body["tools"] if t["function"]["name"] == name)


async def test_a_two_turn_tool_exchange_with_a_parallel_call(
    wire: CapturingWire, openai_host: PluginHost, sim_key: str, validate: Validate
) -> None:
    async with Simulator(wire, plugin_host=openai_host) as sim, await _hub(sim, openai_host) as hub:
        model = hub.model("openai:gpt-4o-mini")
        history = [Message("user", "Weather and time in Paris?")]
        first = await model.complete(history, tools=[get_weather, get_time])
        assert first.finish_reason == "tool_calls"
        assert [c.name for c in first.tool_calls] == ["get_weather", "get_time"]
        for call in first.tool_calls:
            assert call.id.startswith("call_")
            jsonschema.validate(call.arguments, _schema_of(wire.bodies[0], call.name))
        results = [ToolResultPart.for_call(c, f"result of {c.name}") for c in first.tool_calls]
        history += [first.message, Message("tool", results)]
        second = await model.complete(history, tools=[get_weather, get_time])
    assert second.finish_reason == "stop" and second.tool_calls == () and second.text
    sent = wire.bodies[1]["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool", "tool"]
    assert [m["tool_call_id"] for m in sent[2:]] == [c.id for c in first.tool_calls]
    for body in wire.bodies:
        validate("CreateChatCompletionRequest", body)


async def test_parallel_off_named_choice_and_none(
    wire: CapturingWire, openai_host: PluginHost, sim_key: str
) -> None:
    async with Simulator(wire, plugin_host=openai_host) as sim, await _hub(sim, openai_host) as hub:
        model = hub.model("openai:gpt-4o-mini")
        tools = [get_weather, get_time]
        one = await model.complete("x", tools=tools, parallel_tool_calls=False)
        named = await model.complete("x", tools=tools, tool_choice="get_time")
        none = await model.complete("x", tools=tools, tool_choice="none")
    assert len(one.tool_calls) == 1
    assert [c.name for c in named.tool_calls] == ["get_time"]
    assert none.tool_calls == () and none.finish_reason == "stop"
    assert wire.bodies[0]["parallel_tool_calls"] is False
    assert wire.bodies[1]["tool_choice"] == {"type": "function", "function": {"name": "get_time"}}
    assert wire.bodies[2]["tool_choice"] == "none"


async def test_the_simulator_takes_a_script_for_which_tools_and_arguments(
    openai_host: PluginHost, sim_key: str
) -> None:
    def script(request: SimRequest) -> list[tuple[str, dict[str, Any]]] | None:
        if "twice" not in request.prompt:
            return None
        return [("get_weather", {"city": "Oslo"}), ("get_weather", {"city": "Rome", "days": 2})]

    async with (
        Simulator(OpenAIWire(), plugin_host=openai_host, tool_script=script) as sim,
        await _hub(sim, openai_host) as hub,
    ):
        reply = await hub.model("openai:gpt-4o-mini").complete("twice please", tools=[get_weather])
    assert [c.arguments for c in reply.tool_calls] == [
        {"city": "Oslo"},
        {"city": "Rome", "days": 2},
    ]


async def test_structured_output_is_parsed_into_the_type_with_a_strict_schema(
    wire: CapturingWire, openai_host: PluginHost, sim_key: str, validate: Validate
) -> None:
    async with Simulator(wire, plugin_host=openai_host) as sim, await _hub(sim, openai_host) as hub:
        reply = await hub.model("openai:gpt-4o-mini").complete("Forecast?", output=Forecast)
    assert isinstance(reply.parsed, Forecast)
    fmt = wire.bodies[0]["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    assert fmt["json_schema"]["name"] == "Forecast"
    validate("CreateChatCompletionRequest", wire.bodies[0])


async def test_image_and_document_parts_are_sent_as_openai_parts(
    wire: CapturingWire, openai_host: PluginHost, sim_key: str, validate: Validate
) -> None:
    image = Image.from_bytes(PNG, "image/png", detail="low")
    doc = Document.from_bytes(b"%PDF-1.7 minimal", filename="r.pdf")
    async with Simulator(wire, plugin_host=openai_host) as sim, await _hub(sim, openai_host) as hub:
        model = hub.model("openai:gpt-4o-mini")
        reply = await model.complete([Message("user", ["What is this?", image, doc])])
        assert reply.text
        with pytest.raises(InvalidRequestError, match="user messages only"):
            await model.complete([Message("assistant", ["look", image]), Message("user", "?")])
        with pytest.raises(InvalidRequestError, match="documents as bytes"):
            await model.complete(
                [Message("user", ["read", Document.from_url("https://x.test/a.pdf")])]
            )
    assert len(wire.bodies) == 1  # both refusals happened before sending
    content = wire.bodies[0]["messages"][0]["content"]
    assert content[0] == {"type": "text", "text": "What is this?"}
    assert content[1]["image_url"]["url"].startswith("data:image/png;base64,")
    assert content[1]["image_url"]["detail"] == "low"
    assert content[2]["file"]["file_data"].startswith("data:application/pdf;base64,")
    assert content[2]["file"]["filename"] == "r.pdf"
    validate("CreateChatCompletionRequest", wire.bodies[0])


async def test_reasoning_effort_is_sent_and_reasoning_tokens_come_back(
    wire: CapturingWire, openai_host: PluginHost, sim_key: str
) -> None:
    async with Simulator(wire, plugin_host=openai_host) as sim, await _hub(sim, openai_host) as hub:
        model = hub.model("openai:o4-mini")
        high = await model.complete("Think hard", reasoning="high")
        budget = await model.complete("Think a bit", reasoning=500)
    assert wire.bodies[0]["reasoning_effort"] == "high"
    assert wire.bodies[1]["reasoning_effort"] == "low"
    assert high.usage.reasoning_tokens == 512
    assert high.usage.output_tokens > high.usage.reasoning_tokens  # included, as OpenAI counts
    assert budget.usage.reasoning_tokens == 32  # the budget travels as effort "low"


async def test_a_stream_delivers_tool_call_deltas_and_the_assembled_calls_last(
    wire: CapturingWire, openai_host: PluginHost, sim_key: str, validate: Validate
) -> None:
    async with Simulator(wire, plugin_host=openai_host) as sim, await _hub(sim, openai_host) as hub:
        chunks: list[StreamChunk] = [
            c
            async for c in hub.model("openai:gpt-4o-mini").stream(
                "Weather?", tools=[get_weather, get_time]
            )
        ]
    deltas = [d for c in chunks for d in c.tool_call_deltas]
    assert {d.index for d in deltas} == {0, 1}
    final = chunks[-1]
    assert final.finish_reason == "tool_calls"
    assert [c.name for c in final.tool_calls] == ["get_weather", "get_time"]
    for call in final.tool_calls:
        pieces = "".join(d.arguments for d in deltas if d.name == call.name or d.id is None)
        assert isinstance(call, ToolCall) and call.raw_arguments
        jsonschema.validate(call.arguments, _schema_of(wire.bodies[0], call.name))
        assert call.raw_arguments in pieces
    validate("CreateChatCompletionRequest", wire.bodies[0])


async def test_a_tool_spec_that_does_not_fit_strict_is_sent_without_strict(
    wire: CapturingWire, openai_host: PluginHost, sim_key: str, validate: Validate
) -> None:
    loose = ToolSpec(
        "lookup",
        "Look something up.",
        {"type": "object", "properties": {"q": {"type": "string"}}, "required": []},
    )
    async with Simulator(wire, plugin_host=openai_host) as sim, await _hub(sim, openai_host) as hub:
        reply = await hub.model("openai:gpt-4o-mini").complete(
            "find it", tools=[loose, get_weather]
        )
    functions = {t["function"]["name"]: t["function"] for t in wire.bodies[0]["tools"]}
    assert "strict" not in functions["lookup"]
    assert functions["get_weather"].get("strict") is None  # days is optional, so not strict
    assert reply.tool_calls
    validate("CreateChatCompletionRequest", wire.bodies[0])


async def test_a_streamed_structured_answer_ends_with_the_parsed_value(
    openai_host: PluginHost, sim_key: str
) -> None:
    async with (
        Simulator(OpenAIWire(), plugin_host=openai_host) as sim,
        await _hub(sim, openai_host) as hub,
    ):
        chunks = [c async for c in hub.model("openai:gpt-4o-mini").stream("F?", output=Forecast)]
    assert isinstance(chunks[-1].parsed, Forecast)
    assert all(c.parsed is None for c in chunks[:-1])
    assert json.loads("".join(c.text for c in chunks)) == attrs.asdict(chunks[-1].parsed)


async def test_top_k_is_dropped_with_an_event_and_the_other_knobs_are_sent(
    wire: CapturingWire, openai_host: PluginHost, sim_key: str, validate: Validate
) -> None:
    """Chat Completions has no top_k: dropped (default unsupported_params) with an event and a
    count, never sent; the knobs it has go through."""
    from patchwire.events import EventKind

    seen: list[Any] = []
    async with Simulator(wire, plugin_host=openai_host) as sim, await _hub(sim, openai_host) as hub:
        hub.bus.add("test", seen.append)
        reply = await hub.model("openai:gpt-4o-mini").complete(
            "hi", top_k=3, temperature=0.2, seed=7
        )
        dropped = dict(hub.runtime("openai").connector.dropped_params)
    assert reply.text and dropped == {"top_k": 1}
    assert any(e.kind is EventKind.PARAM_DROPPED for e in seen)
    body = wire.bodies[0]
    assert "top_k" not in body and body["temperature"] == 0.2 and body["seed"] == 7
    validate("CreateChatCompletionRequest", body)
