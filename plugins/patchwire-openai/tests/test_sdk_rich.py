"""The official ``openai`` SDK parses the simulator's rich replies: tool calls (whole and
streamed through the SDK's own accumulator), structured output through ``.parse()``
into a pydantic model, image parts and reasoning usage; and those replies fit the spec."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from patchwire.testing.simulator import Simulator
from patchwire_openai.wire import OpenAIWire

openai = pytest.importorskip("openai")
pydantic = pytest.importorskip("pydantic")

pytestmark = pytest.mark.integration  # a real server on loopback

Validate = Callable[[str, Any], None]

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
            "required": ["city", "unit"],
            "additionalProperties": False,
        },
        "strict": True,
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}},
    },
}
ASK = [{"role": "user", "content": "Weather in Paris?"}]


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(OpenAIWire(), seed=5) as running:
        yield running


def client(sim: Simulator) -> Any:
    return openai.AsyncOpenAI(base_url=sim.base_url, api_key="sk-test", max_retries=0, timeout=5)


async def test_sdk_parses_parallel_tool_calls_and_a_reply_to_their_results(sim: Simulator) -> None:
    async with client(sim) as sdk:
        reply = await sdk.chat.completions.create(
            model="gpt-4o-mini", messages=ASK, tools=[WEATHER, TIME]
        )
        choice = reply.choices[0]
        assert choice.finish_reason == "tool_calls" and choice.message.content is None
        calls = choice.message.tool_calls
        assert [c.function.name for c in calls] == ["get_weather", "get_time"]
        arguments = json.loads(calls[0].function.arguments)
        assert set(arguments) == {"city", "unit"} and arguments["unit"] in ("c", "f")
        history = [
            *ASK,
            choice.message.model_dump(exclude_none=True),
            *({"role": "tool", "tool_call_id": c.id, "content": "ok"} for c in calls),
        ]
        second = await sdk.chat.completions.create(
            model="gpt-4o-mini", messages=history, tools=[WEATHER, TIME]
        )
    assert second.choices[0].finish_reason == "stop" and second.choices[0].message.content


async def test_sdk_stream_helper_assembles_streamed_tool_calls(sim: Simulator) -> None:
    async with (
        client(sim) as sdk,
        sdk.chat.completions.stream(
            model="gpt-4o-mini", messages=ASK, tools=[WEATHER], tool_choice="required"
        ) as stream,
    ):
        events = [event async for event in stream]
        final = await stream.get_final_completion()
    done = [e for e in events if e.type == "tool_calls.function.arguments.done"]
    assert [e.name for e in done] == ["get_weather"]
    call = final.choices[0].message.tool_calls[0]
    assert call.function.parsed_arguments == json.loads(call.function.arguments)
    assert final.choices[0].finish_reason == "tool_calls"


async def test_sdk_parse_gives_a_pydantic_instance(sim: Simulator) -> None:
    class Forecast(pydantic.BaseModel):  # type: ignore[misc,name-defined]
        city: str
        high: int
        sunny: bool

    async with client(sim) as sdk:
        reply = await sdk.chat.completions.parse(
            model="gpt-4o-mini", messages=ASK, response_format=Forecast
        )
    parsed = reply.choices[0].message.parsed
    assert isinstance(parsed, Forecast)


async def test_sdk_sends_image_parts_and_reads_reasoning_usage(sim: Simulator) -> None:
    url = "data:image/png;base64," + base64.b64encode(b"\x89PNG....").decode()
    async with client(sim) as sdk:
        reply = await sdk.chat.completions.create(
            model="o4-mini",
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What is this?"},
                        {"type": "image_url", "image_url": {"url": url}},
                    ],
                }
            ],
            reasoning_effort="medium",
        )
    assert reply.usage.completion_tokens_details.reasoning_tokens == 128


async def test_sdk_sees_an_unanswered_tool_call_as_a_bad_request(sim: Simulator) -> None:
    calls = [{"id": "call_1", "type": "function", "function": {"name": "x", "arguments": "{}"}}]
    async with client(sim) as sdk:
        with pytest.raises(openai.BadRequestError, match="tool_call_id"):
            await sdk.chat.completions.create(
                model="gpt-4o-mini",
                messages=[*ASK, {"role": "assistant", "tool_calls": calls}, *ASK],
            )


async def test_rich_replies_and_stream_chunks_fit_the_spec(
    sim: Simulator, validate: Validate
) -> None:
    schema = {
        "type": "object",
        "properties": {"n": {"type": "integer"}},
        "required": ["n"],
        "additionalProperties": False,
    }
    bodies = [
        {"model": "gpt-4o-mini", "messages": ASK, "tools": [WEATHER, TIME]},
        {
            "model": "gpt-4o-mini",
            "messages": ASK,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "n", "schema": schema, "strict": True},
            },
        },
        {"model": "o4-mini", "messages": ASK, "reasoning_effort": "high"},
    ]
    async with aiohttp.ClientSession() as session:
        for body in bodies:
            validate("CreateChatCompletionRequest", body)
            async with session.post(sim.base_url + "/chat/completions", json=body) as resp:
                assert resp.status == 200
                validate("CreateChatCompletionResponse", await resp.json())
            streamed = {**body, "stream": True, "stream_options": {"include_usage": True}}
            async with session.post(sim.base_url + "/chat/completions", json=streamed) as resp:
                raw = (await resp.read()).decode()
            frames = [line[6:] for line in raw.split("\n") if line.startswith("data: ")]
            assert frames[-1] == "[DONE]"
            for frame in frames[:-1]:
                validate("CreateChatCompletionStreamResponse", json.loads(frame))


async def test_the_simulator_refuses_a_strict_schema_that_is_not_closed(sim: Simulator) -> None:
    loose = {**WEATHER, "function": {**WEATHER["function"], "parameters": {"type": "object"}}}
    async with client(sim) as sdk:
        with pytest.raises(openai.BadRequestError, match="additionalProperties"):
            await sdk.chat.completions.create(model="gpt-4o-mini", messages=ASK, tools=[loose])
