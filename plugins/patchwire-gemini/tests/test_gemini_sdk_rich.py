"""The official google-genai SDK against the simulator's rich answers: function calls (whole
and streamed) and a second turn built by the SDK with its thought signatures, thought
summaries and thinking usage, structured output parsed into a pydantic model, an image."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from patchwire.plugins import PluginHost
from patchwire.testing.simulator import Simulator
from patchwire_gemini.plugin import GeminiPlugin

genai = pytest.importorskip("google.genai")
pydantic = pytest.importorskip("pydantic")
from google.genai import errors, types  # noqa: E402

pytestmark = [
    pytest.mark.integration,  # real HTTP to the simulator on loopback
    pytest.mark.filterwarnings("ignore:Inheritance class AiohttpClientSession:DeprecationWarning"),
]

KEY = "sim-key-rich"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
WEATHER = types.FunctionDeclaration(
    name="get_weather",
    description="Weather for a city.",
    parameters_json_schema={
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city"],
        "additionalProperties": False,
    },
)
TIME = types.FunctionDeclaration(
    name="get_time",
    description="The time in a zone.",
    parameters=types.Schema(
        type=types.Type.OBJECT,
        properties={"zone": types.Schema(type=types.Type.STRING)},
        required=["zone"],
    ),
)


class Forecast(pydantic.BaseModel):  # type: ignore[name-defined,misc]
    city: str
    high: int
    sunny: bool


@pytest.fixture
async def client(plugin_host: PluginHost) -> AsyncIterator[Any]:
    plugin_host.register(GeminiPlugin(), "gemini")
    async with Simulator("gemini", keys=[KEY], seed=3, plugin_host=plugin_host) as sim:
        options = types.HttpOptions(base_url=sim.root_url, api_version="v1beta")
        aio = genai.Client(api_key=KEY, http_options=options).aio
        yield aio
        await aio.aclose()


def _config(**extra: Any) -> Any:
    return types.GenerateContentConfig(
        tools=[types.Tool(function_declarations=[WEATHER, TIME])],
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        **extra,
    )


async def test_sdk_reads_parallel_calls_and_sends_back_its_history_with_signatures(
    client: Any,
) -> None:
    thinking = types.ThinkingConfig(thinking_level=types.ThinkingLevel.LOW, include_thoughts=True)
    question = types.Content(role="user", parts=[types.Part(text="Weather and time in Oslo?")])
    first = await client.models.generate_content(
        model="gemini-3-pro-preview", contents=[question], config=_config(thinking_config=thinking)
    )
    calls = first.function_calls
    assert [c.name for c in calls] == ["get_weather", "get_time"]
    assert isinstance(calls[0].args["city"], str) and isinstance(calls[1].args["zone"], str)
    parts = first.candidates[0].content.parts
    assert parts[0].thought is True and parts[0].text
    assert isinstance(parts[1].thought_signature, bytes) and parts[2].thought_signature is None
    usage = first.usage_metadata
    assert usage.thoughts_token_count > 0
    assert usage.total_token_count == (
        usage.prompt_token_count + usage.candidates_token_count + usage.thoughts_token_count
    )
    answers = types.Content(
        role="user",
        parts=[
            types.Part.from_function_response(name=c.name, response={"output": "fine"})
            for c in calls
        ],
    )
    history = [question, first.candidates[0].content, answers]
    second = await client.models.generate_content(
        model="gemini-3-pro-preview", contents=history, config=_config(thinking_config=thinking)
    )
    assert second.text and second.candidates[0].finish_reason == types.FinishReason.STOP
    # The same history without the signature the simulator issued is refused, as Gemini 3 does.
    parts[1].thought_signature = None
    with pytest.raises(errors.ClientError, match="thought_signature"):
        await client.models.generate_content(
            model="gemini-3-pro-preview", contents=history, config=_config()
        )


async def test_sdk_reads_streamed_calls(client: Any) -> None:
    chunks = [
        chunk
        async for chunk in await client.models.generate_content_stream(
            model="gemini-2.5-flash", contents="Weather in Lima?", config=_config()
        )
    ]
    calls = [c for chunk in chunks for c in (chunk.function_calls or ())]
    assert [c.name for c in calls] == ["get_weather", "get_time"]
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP


async def test_sdk_parses_structured_output_into_its_model(client: Any) -> None:
    reply = await client.models.generate_content(
        model="gemini-2.5-flash",
        contents="Forecast for Rome",
        config=types.GenerateContentConfig(
            response_mime_type="application/json", response_schema=Forecast
        ),
    )
    assert isinstance(reply.parsed, Forecast)


async def test_sdk_sends_an_image_and_a_named_tool_choice(client: Any) -> None:
    reply = await client.models.generate_content(
        model="gemini-2.5-flash",
        contents=[
            types.Part.from_bytes(data=PNG, mime_type="image/png"),
            "What is the weather where this was taken?",
        ],
        config=_config(
            tool_config=types.ToolConfig(
                function_calling_config=types.FunctionCallingConfig(
                    mode=types.FunctionCallingConfigMode.ANY, allowed_function_names=["get_time"]
                )
            )
        ),
    )
    assert [c.name for c in reply.function_calls] == ["get_time"]
    assert reply.usage_metadata.prompt_token_count >= 258
