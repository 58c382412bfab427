"""The simulator's Gemini wire on rich requests: the shapes it refuses as Google does, rich
answers (whole and every stream event) that match the spec, and the connector's reading of
them (ids, arguments, signatures, finish reasons)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from patchwire.errors import IntegrationError, InvalidRequestError
from patchwire.parts import Reasoning, Text, ToolCall
from patchwire.testing.sim_wire import SimReply, SimRequest, SimToolCall, WireRequestError
from patchwire_gemini.response import finish_reason, parse_chunk
from patchwire_gemini.simwire import GeminiWire
from patchwire_gemini.simwire_signatures import call_signature
from patchwire_gemini.turn import TurnAssembler

WIRE = GeminiWire()
ROUTES = {route.path.rsplit(":", 1)[1]: route for route in WIRE.routes}
PNG64 = "iVBORw0KGgo="
DECL = {
    "name": "lookup",
    "description": "Look it up.",
    "parametersJsonSchema": {"type": "object", "properties": {"q": {"type": "string"}}},
}


def parse(
    body: Any, model: str = "gemini-2.5-flash", method: str = "generateContent"
) -> SimRequest:
    return WIRE.parse(ROUTES[method], json.dumps(body).encode(), {"model": model})


def user(*parts: Any) -> dict[str, Any]:
    return {"role": "user", "parts": list(parts)}


def model_turn(*parts: Any) -> dict[str, Any]:
    return {"role": "model", "parts": list(parts)}


CALL = {"functionCall": {"name": "lookup", "args": {"q": "x"}}}
RESPONSE = {"functionResponse": {"name": "lookup", "response": {"output": "found"}}}
TOOLS = [{"functionDeclarations": [DECL]}]


@pytest.mark.parametrize(
    ("body", "model", "fragment"),
    [
        ({"contents": [user(RESPONSE)]}, None, "comes immediately after a function call turn"),
        (
            {"contents": [user({"text": "q"}), model_turn(CALL, CALL), user(RESPONSE)]},
            None,
            "number of function response parts is equal",
        ),
        ({"contents": [user(CALL)]}, None, "only allowed in model turns"),
        ({"contents": [user({"text": "q", "inlineData": {}})]}, None, "exactly one of"),
        (
            {"contents": [user({"inlineData": {"mimeType": "image/png", "data": "%%"}})]},
            None,
            "Base64 decoding failed",
        ),
        (
            {"contents": [user({"inlineData": {"mimeType": "video/x-evil", "data": PNG64}})]},
            None,
            "Unsupported MIME type",
        ),
        (
            {"contents": [user({"fileData": {"fileUri": "https://example.com/a.png"}})]},
            None,
            "unsupported file uri",
        ),
        (
            {
                "contents": [user({"text": "q"})],
                "tools": [{"functionDeclarations": [{**DECL, "name": "a/b"}]}],
            },
            None,
            "Invalid function name",
        ),
        (
            {
                "contents": [user({"text": "q"})],
                "tools": [
                    {
                        "functionDeclarations": [
                            {"name": "f", "description": "d", "parameters": {"type": "OBJECT"}}
                        ]
                    }
                ],
            },
            None,
            "should be non-empty for OBJECT type",
        ),
        (
            {
                "contents": [user({"text": "q"})],
                "tools": [{"functionDeclarations": [{**DECL, "parameters": {"type": "OBJECT"}}]}],
            },
            None,
            "cannot both be set",
        ),
        (
            {
                "contents": [user({"text": "q"})],
                "tools": [
                    {
                        "functionDeclarations": [
                            {k: v for k, v in DECL.items() if k != "description"}
                        ]
                    }
                ],
            },
            None,
            "description is required",
        ),
        (
            {
                "contents": [user({"text": "q"})],
                "tools": TOOLS,
                "toolConfig": {
                    "functionCallingConfig": {"mode": "AUTO", "allowedFunctionNames": ["lookup"]}
                },
            },
            None,
            "only be set when mode is ANY",
        ),
        (
            {
                "contents": [user({"text": "q"})],
                "generationConfig": {"responseJsonSchema": {"type": "object"}},
            },
            None,
            "needs response_mime_type",
        ),
        (
            {
                "contents": [user({"text": "q"})],
                "generationConfig": {
                    "responseMimeType": "application/json",
                    "responseJsonSchema": {"type": "string", "minLength": 3},
                },
            },
            None,
            "keyword 'minLength' is not supported",
        ),
        (
            {
                "contents": [user({"text": "q"})],
                "generationConfig": {"thinkingConfig": {"thinkingLevel": "LOW"}},
            },
            None,
            "Thinking level is not supported",
        ),
        (
            {
                "contents": [user({"text": "q"})],
                "generationConfig": {"thinkingConfig": {"thinkingBudget": 5}},
            },
            "gemini-2.0-flash",
            "Thinking is not supported",
        ),
        (
            {"contents": [user({"text": "q"}), model_turn(CALL), user(RESPONSE)], "tools": TOOLS},
            "gemini-3-pro-preview",
            "missing a thought_signature",
        ),
        (
            {
                "contents": [
                    user({"text": "q"}),
                    model_turn({**CALL, "thoughtSignature": call_signature("lookup", {"q": "y"})}),
                    user(RESPONSE),
                ],
                "tools": TOOLS,
            },
            None,
            r"thought signature at contents\[1\]\.parts\[0\] is not valid",
        ),
    ],
)
def test_requests_gemini_would_refuse_are_refused(
    body: Any, model: str | None, fragment: str
) -> None:
    with pytest.raises(WireRequestError, match=fragment):
        parse(body, model or "gemini-2.5-flash")


def test_an_earlier_turn_needs_no_signature_and_a_genuine_one_is_counted() -> None:
    signed = {**CALL, "thoughtSignature": call_signature("lookup", {"q": "x"})}
    body = {
        "contents": [
            user({"text": "first"}),
            model_turn(CALL),  # an earlier turn: Gemini 3 checks only the current one
            user(RESPONSE),
            model_turn({"text": "done"}),
            user({"text": "again"}),
            model_turn(signed),
            user(RESPONSE),
        ],
        "tools": TOOLS,
    }
    sim = parse(body, "gemini-3-pro-preview")
    assert sim.replayed == 1 and sim.after_tool_result and sim.prompt == "again"
    assert [t.name for t in sim.tools] == ["lookup"]


def _rich_reply(calls: int) -> SimReply:
    tool_calls = tuple(
        SimToolCall(f"id{i}", "lookup", json.dumps({"q": str(i)})) for i in range(calls)
    )
    return SimReply(
        "resp-9",
        0,
        text="" if calls else "answer text",
        pieces=() if calls else ("answer ", "text"),
        input_tokens=12,
        output_tokens=7,
        tool_calls=tool_calls,
        reasoning="I think",
        reasoning_tokens=40,
    )


@pytest.mark.parametrize("calls", [0, 2])
def test_rich_answers_and_every_stream_event_match_the_spec_and_read_back(
    gemini_spec: Any, calls: int
) -> None:
    sim = parse(
        {
            "contents": [user({"text": "q"})],
            "tools": TOOLS,
            "generationConfig": {
                "thinkingConfig": {"thinkingLevel": "LOW", "includeThoughts": True}
            },
        },
        "gemini-3-flash",
    )
    reply = _rich_reply(calls)
    whole = json.loads(WIRE.success(sim, reply).body)
    gemini_spec.validate("GenerateContentResponse", whole)
    usage = whole["usageMetadata"]
    assert usage["thoughtsTokenCount"] == 40
    assert usage["totalTokenCount"] == 12 + 7 + 40
    chunk = parse_chunk(whole, model="gemini-3-flash")
    thought = chunk.parts[0]
    assert isinstance(thought, Reasoning) and thought.summary and thought.text == "I think"
    made = [p for p in chunk.parts if isinstance(p, ToolCall)]
    assert len(made) == calls
    if calls:
        assert made[0].signature and made[1].signature is None
        assert [c.arguments for c in made] == [{"q": "0"}, {"q": "1"}]
        assert finish_reason(chunk.finish_reason, True) == "tool_calls"
    else:
        assert isinstance(chunk.parts[-1], Text) and chunk.text == "answer text"
        assert any(isinstance(p, Reasoning) and p.signature for p in chunk.parts)
    plan = WIRE.stream(sim, reply)
    frames = [json.loads(f[6:]) for f in plan.head + plan.pieces + plan.tail]
    turn = TurnAssembler()
    for frame in frames:
        gemini_spec.validate("GenerateContentResponse", frame)
        turn.add(parse_chunk(frame, model="gemini-3-flash", call_offset=turn.calls))
    assembled = turn.parts()
    assert [p.id for p in assembled if isinstance(p, ToolCall)] == [c.id for c in made]
    assert "".join(p.text for p in assembled if isinstance(p, Text)) == chunk.text


def test_the_connector_reads_ids_arguments_and_finish_reasons() -> None:
    def data(parts: list[Any], finish: str = "STOP") -> Any:
        return {
            "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": finish}],
            "responseId": "r1",
        }

    given = parse_chunk(
        data([{"functionCall": {"id": "fc-1", "name": "f", "args": {"a": 1}}}]), model="m"
    )
    minted = parse_chunk(data([{"functionCall": {"name": "f"}}]), model="m")
    again = parse_chunk(data([{"functionCall": {"name": "f"}}]), model="m")
    (first,), (second,), (third,) = given.parts, minted.parts, again.parts
    assert isinstance(first, ToolCall) and first.id == "fc-1" and first.raw_arguments == '{"a":1}'
    assert isinstance(second, ToolCall) and second.id.startswith("call_") and second.arguments == {}
    assert isinstance(third, ToolCall) and second.id == third.id  # stable for the same reply
    with pytest.raises(IntegrationError, match="not an object"):
        parse_chunk(data([{"functionCall": {"name": "f", "args": [1]}}]), model="m")
    with pytest.raises(IntegrationError, match="MALFORMED_FUNCTION_CALL"):
        parse_chunk(data([], "MALFORMED_FUNCTION_CALL"), model="m")
    with pytest.raises(InvalidRequestError, match="MISSING_THOUGHT_SIGNATURE"):
        parse_chunk(data([], "MISSING_THOUGHT_SIGNATURE"), model="m")
    assert [
        finish_reason(r, False) for r in ("STOP", "MAX_TOKENS", "TOO_MANY_TOOL_CALLS", None)
    ] == [
        "stop",
        "length",
        "other",
        None,
    ]
