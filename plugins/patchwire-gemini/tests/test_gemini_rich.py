"""Rich calls on Gemini through the whole pipeline against the simulator: a two-turn tool
exchange with a parallel call, tool choice, scripted calls, structured output in both
schema forms, images and PDFs, thinking and its signatures kept across turns, streamed
calls; and every request body the connector sends fits Google's spec."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

import attrs
import jsonschema
import pytest
from patchwire import (
    Document,
    Image,
    InvalidRequestError,
    Message,
    Reasoning,
    StreamChunk,
    ToolCall,
    ToolResultPart,
)
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.testing.sim_wire import SimRequest
from patchwire.testing.simulator import Simulator
from patchwire_gemini.openapi_schema import from_openapi
from patchwire_gemini.plugin import GeminiPlugin
from patchwire_gemini.request_parts import SKIP_SIGNATURE

pytestmark = pytest.mark.integration  # a real simulator on loopback

KEY = "gemini-rich-key-5a1"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
PDF = b"%PDF-1.4\n1 0 obj << /Type /Page >> endobj\n%%EOF\n"


class Sent:
    """The request bodies the test's simulators read, in order (from their journals)."""

    def __init__(self) -> None:
        self.sims: list[Simulator] = []

    @property
    def bodies(self) -> list[Any]:
        return [json.loads(r.body) for sim in self.sims for r in sim.journal if r.body]


def find_flight(origin: str, destination: str, day: int = 1) -> str:
    """Flights between two airports.

    Args:
        origin: IATA code of the departure airport
        destination: IATA code of the arrival airport
        day: days from today
    """
    return f"{origin}-{destination}"


def convert(amount: float, currency: Literal["EUR", "USD", "JPY"]) -> str:
    """Convert an amount into a currency."""
    return f"{amount} {currency}"


TOOLS = [find_flight, convert]


@attrs.frozen
class Stay:
    hotel: str
    nights: int
    rating: float | None
    extras: list[str]


@pytest.fixture
def host(plugin_host: PluginHost, monkeypatch: pytest.MonkeyPatch) -> PluginHost:
    monkeypatch.setenv("GEMINI_RICH_KEY", KEY)
    plugin_host.register(GeminiPlugin(), "gemini")
    return plugin_host


@pytest.fixture
def wire() -> Sent:
    return Sent()


Session = Callable[..., Any]


@pytest.fixture
async def session(
    wire: Sent, host: PluginHost, gemini_spec: Any
) -> AsyncIterator[Callable[..., Any]]:
    """``await session(**table)``: a hub on a new simulator; both closed after, and every
    request body the connector sent in the test checked against Google's spec."""
    opened: list[Any] = []

    async def make(tool_script: Any = None, **table: Any) -> Hub:
        sim = Simulator("gemini", keys=[KEY], seed=5, plugin_host=host, tool_script=tool_script)
        await sim.__aenter__()
        opened.append(sim)
        wire.sims.append(sim)
        connector = {
            "base_url": sim.base_url,
            "api_key": "env:GEMINI_RICH_KEY",
            "cache": {"ttl": 0},
            "retry": {"max_attempts": 1},
            **table,
        }
        hub = Hub.from_dict({"connectors": {"gemini": connector}}, host=host)
        await hub.__aenter__()
        opened.append(hub)
        return hub

    yield make
    for thing in reversed(opened):
        await thing.__aexit__(None, None, None)
    for body in wire.bodies:
        gemini_spec.validate("GenerateContentRequest", body)


def _declaration(body: Any, name: str) -> Any:
    return next(d for d in body["tools"][0]["functionDeclarations"] if d["name"] == name)


async def test_a_two_turn_tool_exchange_with_a_parallel_call(
    session: Session, wire: Sent, gemini_spec: Any
) -> None:
    model = (await session()).model("gemini:gemini-2.5-flash")
    history = [Message("user", "Weather and time in Paris?")]
    first = await model.complete(history, tools=TOOLS)
    assert first.finish_reason == "tool_calls" and first.text == ""
    assert [c.name for c in first.tool_calls] == ["find_flight", "convert"]
    for call in first.tool_calls:
        assert call.id.startswith("call_") and call.provider == "gemini"
        assert json.loads(call.raw_arguments) == call.arguments
        schema = _declaration(wire.bodies[0], call.name)["parametersJsonSchema"]
        jsonschema.validate(call.arguments, schema)
    assert len({c.id for c in first.tool_calls}) == 2
    results = [
        ToolResultPart.for_call(first.tool_calls[0], "AF1234"),
        ToolResultPart.for_call(first.tool_calls[1], "rate service down", is_error=True),
    ]
    history += [first.message, Message("user", results)]
    second = await model.complete(history, tools=TOOLS)
    assert second.finish_reason == "stop" and second.tool_calls == () and second.text
    sent = wire.bodies[1]["contents"]
    assert [c["role"] for c in sent] == ["user", "model", "user"]
    assert [p["functionCall"]["name"] for p in sent[1]["parts"]] == ["find_flight", "convert"]
    responses = [p["functionResponse"] for p in sent[2]["parts"]]
    assert responses == [
        {"name": "find_flight", "response": {"output": "AF1234"}},
        {"name": "convert", "response": {"error": "rate service down"}},
    ]  # minted ids are never sent to Gemini
    for body in wire.bodies:
        gemini_spec.validate("GenerateContentRequest", body)


async def test_tool_choice_modes_and_the_one_call_rule(session: Session, wire: Sent) -> None:
    model = (await session()).model("gemini:gemini-2.5-flash")
    one = await model.complete("x", tools=TOOLS, parallel_tool_calls=False)
    named = await model.complete("x", tools=TOOLS, tool_choice="convert")
    required = await model.complete("x", tools=TOOLS, tool_choice="required")
    none = await model.complete("x", tools=TOOLS, tool_choice="none")
    assert [c.name for c in one.tool_calls] == ["find_flight"]  # Gemini has no switch: enforced
    assert [c.name for c in named.tool_calls] == ["convert"]
    assert required.tool_calls and required.finish_reason == "tool_calls"
    assert none.tool_calls == () and none.finish_reason == "stop"
    configs = [b.get("toolConfig", {}).get("functionCallingConfig") for b in wire.bodies]
    assert configs == [
        None,
        {"mode": "ANY", "allowedFunctionNames": ["convert"]},
        {"mode": "ANY"},
        {"mode": "NONE"},
    ]


async def test_the_simulator_takes_a_script_for_which_tools_and_arguments(
    session: Session,
) -> None:
    def script(request: SimRequest) -> list[tuple[str, dict[str, Any]]] | None:
        if "twice" not in request.prompt:
            return None
        return [
            ("find_flight", {"origin": "OSL", "destination": "CDG"}),
            ("find_flight", {"origin": "FCO", "destination": "CDG", "day": 2}),
        ]

    model = (await session(tool_script=script)).model("gemini:gemini-2.5-flash")
    reply = await model.complete("twice please", tools=[find_flight])
    assert [c.arguments for c in reply.tool_calls] == [
        {"origin": "OSL", "destination": "CDG"},
        {"origin": "FCO", "destination": "CDG", "day": 2},
    ]
    assert reply.tool_calls[0].id != reply.tool_calls[1].id  # same name, distinct ids


@pytest.mark.parametrize(
    ("model_name", "table", "field"),
    [
        ("gemini-2.5-flash", {}, "responseJsonSchema"),
        ("gemini-2.5-flash", {"api_version": "v1"}, "responseSchema"),
        ("gemini-2.0-flash", {}, "responseSchema"),
    ],
)
async def test_structured_output_is_parsed_into_the_type(
    session: Session,
    wire: Sent,
    gemini_spec: Any,
    model_name: str,
    table: dict[str, Any],
    field: str,
) -> None:
    model = (await session(**table)).model(f"gemini:{model_name}")
    reply = await model.complete("A stay in Lisbon?", output=Stay)
    assert isinstance(reply.parsed, Stay) and reply.finish_reason == "stop"
    config = wire.bodies[0]["generationConfig"]
    assert config["responseMimeType"] == "application/json" and field in config
    if field == "responseSchema":
        assert config["responseSchema"]["type"] == "OBJECT"
        schema = config["responseSchema"]
        assert schema["propertyOrdering"] == ["hotel", "nights", "rating", "extras"]
        assert schema["properties"]["rating"] == {"type": "NUMBER", "nullable": True}
        assert from_openapi(schema)["required"] == ["hotel", "nights", "rating", "extras"]
    gemini_spec.validate("GenerateContentRequest", wire.bodies[0])


async def test_tools_on_v1_send_the_openapi_subset(session: Session, wire: Sent) -> None:
    model = (await session(api_version="v1")).model("gemini:gemini-2.5-flash")
    reply = await model.complete("Weather?", tools=[find_flight])
    declaration = _declaration(wire.bodies[0], "find_flight")
    assert "parametersJsonSchema" not in declaration
    assert declaration["parameters"]["properties"]["day"] == {
        "type": "INTEGER",
        "description": "days from today",
    }
    jsonschema.validate(reply.tool_calls[0].arguments, from_openapi(declaration["parameters"]))


async def test_images_and_pdfs_go_inline_and_files_by_uri(
    session: Session, wire: Sent, gemini_spec: Any
) -> None:
    model = (await session()).model("gemini:gemini-2.5-flash")
    files_uri = "https://generativelanguage.googleapis.com/v1beta/files/abc123"
    question = Message(
        "user",
        [
            "What is in these?",
            Image.from_bytes(PNG, "image/png"),
            Document.from_bytes(PDF),
            Image.from_url(files_uri, "image/jpeg"),
        ],
    )
    reply = await model.complete([question])
    assert reply.text
    parts = wire.bodies[0]["contents"][0]["parts"]
    assert parts[1]["inlineData"]["mimeType"] == "image/png"
    assert parts[2]["inlineData"]["mimeType"] == "application/pdf"
    assert parts[3] == {"fileData": {"mimeType": "image/jpeg", "fileUri": files_uri}}
    # Media counts as Gemini counts it (258 tokens an image or page), beyond the text.
    assert reply.usage.input_tokens >= 3 * 258
    gemini_spec.validate("GenerateContentRequest", wire.bodies[0])


async def test_a_url_gemini_cannot_read_is_refused_before_sending(
    session: Session, wire: Sent
) -> None:
    model = (await session()).model("gemini:gemini-2.5-flash")
    picture = Image.from_url("https://example.com/cat.png")
    with pytest.raises(InvalidRequestError, match="Files API") as info:
        await model.complete([Message("user", ["What is this?", picture])])
    assert info.value.attempts == 0 and wire.bodies == []


async def test_thinking_and_signatures_are_kept_across_turns_on_gemini_3(
    session: Session, wire: Sent, gemini_spec: Any
) -> None:
    model = (await session()).model("gemini:gemini-3-pro-preview")
    history = [Message("user", "Weather and time in Paris?")]
    first = await model.complete(history, tools=TOOLS, reasoning="high")
    assert wire.bodies[0]["generationConfig"]["thinkingConfig"] == {
        "thinkingLevel": "HIGH",
        "includeThoughts": True,
    }
    summary = first.reasoning[0]
    assert summary.summary and summary.text and summary.provider == "gemini"
    assert first.usage.reasoning_tokens > 0
    signed, unsigned = first.tool_calls
    assert signed.signature and unsigned.signature is None  # only the first call is signed
    results = [ToolResultPart.for_call(c, "ok") for c in first.tool_calls]
    history += [first.message, Message("user", results)]
    second = await model.complete(history, tools=TOOLS, reasoning="high")
    assert second.text and second.finish_reason == "stop"
    replayed = wire.bodies[1]["contents"][1]["parts"]
    assert replayed[0] == {"text": summary.text, "thought": True}
    assert replayed[1]["thoughtSignature"] == signed.signature
    assert "thoughtSignature" not in replayed[2]
    # The text answer's own signature comes back on its text part next turn.
    text_sig = next(r for r in second.reasoning if not r.summary)
    third = await model.complete([*history, second.message, Message("user", "thanks")])
    model_turn = wire.bodies[2]["contents"][3]["parts"]
    assert {"text": second.text, "thoughtSignature": text_sig.signature} in model_turn
    assert third.text
    for body in wire.bodies:
        gemini_spec.validate("GenerateContentRequest", body)


async def test_a_tampered_signature_is_refused_and_a_foreign_call_gets_the_placeholder(
    session: Session, wire: Sent
) -> None:
    model = (await session()).model("gemini:gemini-3-pro-preview")
    first = await model.complete("Weather?", tools=[find_flight])
    call = first.tool_calls[0]
    moved = attrs.evolve(
        call, arguments={"origin": "XXX", "destination": "YYY"}
    )  # its signature no longer fits
    result = ToolResultPart.for_call(call, "ok")
    with pytest.raises(InvalidRequestError, match="thought signature"):
        await model.complete(
            [Message("user", "Weather?"), Message("assistant", [moved]), Message("user", [result])],
            tools=[find_flight],
        )
    foreign = ToolCall(
        "call_abc", "find_flight", {"origin": "OSL", "destination": "CDG"}, provider="openai"
    )
    answer = ToolResultPart.for_call(foreign, "ok")
    reply = await model.complete(
        [Message("user", "Weather?"), Message("assistant", [foreign]), Message("user", [answer])],
        tools=[find_flight],
    )
    assert reply.text
    sent = wire.bodies[-1]["contents"][1]["parts"][0]
    assert sent == {
        "functionCall": {"name": "find_flight", "args": {"origin": "OSL", "destination": "CDG"}},
        "thoughtSignature": SKIP_SIGNATURE,
    }


async def test_reasoning_on_2_5_is_a_budget_and_earlier_models_refuse_it(
    session: Session, wire: Sent
) -> None:
    hub = await session()
    reply = await hub.model("gemini:gemini-2.5-flash").complete("Think", reasoning="low")
    assert wire.bodies[0]["generationConfig"]["thinkingConfig"] == {
        "thinkingBudget": 1024,
        "includeThoughts": True,
    }
    assert reply.usage.reasoning_tokens > 0 and reply.reasoning[0].summary
    assert reply.usage.output_tokens > reply.usage.reasoning_tokens  # thoughts billed as output
    with pytest.raises(InvalidRequestError, match="does not think"):
        await hub.model("gemini:gemini-2.0-flash").complete("Think", reasoning="low")
    assert len(wire.bodies) == 1


async def test_a_stream_delivers_whole_calls_and_the_assembled_turn(
    session: Session, wire: Sent, gemini_spec: Any
) -> None:
    model = (await session()).model("gemini:gemini-3-pro-preview")
    chunks: list[StreamChunk] = [
        c async for c in model.stream("Weather and time?", tools=TOOLS, reasoning="low")
    ]
    deltas = [d for c in chunks for d in c.tool_call_deltas]
    final = chunks[-1]
    assert final.finish_reason == "tool_calls"
    assert [d.index for d in deltas] == [0, 1]
    assert [(c.id, c.name, c.raw_arguments) for c in final.tool_calls] == [
        (d.id, d.name, d.arguments) for d in deltas
    ]
    assert "".join(c.reasoning_text for c in chunks) == final.reasoning[0].text
    assert final.tool_calls[0].signature
    # The streamed turn replays as a whole one would.
    results = [ToolResultPart.for_call(c, "ok") for c in final.tool_calls]
    history = [
        Message("user", "Weather and time?"),
        Message("assistant", final.parts),
        Message("user", results),
    ]
    text = [c async for c in model.stream(history, tools=TOOLS, reasoning="low")]
    assert text[-1].finish_reason == "stop" and "".join(c.text for c in text)
    signature = [p for p in text[-1].parts if isinstance(p, Reasoning) and p.signature]
    assert signature  # a late signature on an empty text part is kept with the turn
    for body in wire.bodies:
        gemini_spec.validate("GenerateContentRequest", body)
