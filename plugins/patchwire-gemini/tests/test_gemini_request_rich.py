"""Rich request bodies: parts, function calls and responses, signatures, tools in both schema
forms, tool choice, output and thinking per model generation; each checked against the
spec, and a property: any tool built from a Python signature that the connector sends gets
arguments from the simulator that validate against the caller's schema."""

from __future__ import annotations

import inspect
import json
import keyword
import random
import struct
from typing import Any, Literal

import attrs
import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.errors import InvalidRequestError
from patchwire.features import split_features
from patchwire.hub import Hub
from patchwire.parts import Document, Image, Reasoning, Text, ToolCall, ToolResultPart
from patchwire.plugins import PluginHost
from patchwire.testing.sim_schema import instance_for
from patchwire.tools import ToolSpec
from patchwire.types import CompletionRequest, Message
from patchwire_gemini.media_tokens import media_tokens
from patchwire_gemini.openapi_schema import SchemaSubsetError, from_openapi, to_openapi
from patchwire_gemini.plugin import GeminiPlugin
from patchwire_gemini.request import generate_body
from patchwire_gemini.request_features import thinking_config
from patchwire_gemini.request_parts import FILES_PREFIX as FILES
from patchwire_gemini.request_parts import SKIP_SIGNATURE
from patchwire_gemini.simwire import GeminiWire
from patchwire_gemini.simwire_signatures import call_signature, text_signature

WIRE = GeminiWire()
ROUTE = next(r for r in WIRE.routes if r.path.endswith(":generateContent"))
TEXT_SIGNATURE = text_signature("resp-1")
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(16))


def request(model: str, messages: list[Message], **features: Any) -> CompletionRequest:
    params, rich = split_features(dict(features))
    return CompletionRequest(model, tuple(messages), params, features=rich)


def sim_read(body: Any, model: str) -> Any:
    return WIRE.parse(ROUTE, json.dumps(body).encode(), {"model": model})


def test_history_of_calls_results_and_signatures_maps_part_for_part(gemini_spec: Any) -> None:
    signature = call_signature("lookup", {"q": "x"})  # genuine: the simulator checks them
    issued = ToolCall(
        "fc-7", "lookup", {"q": "x"}, '{"q":"x"}', signature=signature, provider="gemini"
    )
    minted = ToolCall("call_" + "a" * 24, "lookup", {"q": "y"}, provider="gemini")
    messages = [
        Message("system", "be brief"),
        Message("user", ["Look these up", Image.from_bytes(PNG, "image/png")]),
        Message(
            "assistant",
            [
                Reasoning("plan", summary=True, provider="gemini"),
                Reasoning("other's thoughts", signature="zzz", provider="anthropic"),
                issued,
                minted,
            ],
        ),
        Message(
            "tool",
            [
                ToolResultPart.for_call(issued, ["found", Image.from_bytes(PNG, "image/png")]),
                ToolResultPart(minted.id, "failed", is_error=True),  # name found by call id
            ],
        ),
        Message(
            "assistant", [Reasoning("", signature=TEXT_SIGNATURE, provider="gemini"), Text("done")]
        ),
    ]
    body = generate_body(request("gemini-2.5-flash", messages))
    gemini_spec.validate("GenerateContentRequest", body)
    assert body["systemInstruction"] == {"parts": [{"text": "be brief"}]}
    model_turn, results, answer = body["contents"][1:]
    assert model_turn["parts"] == [
        {"text": "plan", "thought": True},  # Anthropic's reasoning is dropped
        {
            "functionCall": {"name": "lookup", "args": {"q": "x"}, "id": "fc-7"},
            "thoughtSignature": signature,
        },
        {"functionCall": {"name": "lookup", "args": {"q": "y"}}},  # a minted id stays home
    ]
    first, second = (p["functionResponse"] for p in results["parts"])
    assert first["id"] == "fc-7" and first["response"] == {"output": "found"}
    assert first["parts"][0]["inlineData"]["mimeType"] == "image/png"
    assert second == {"name": "lookup", "response": {"error": "failed"}}
    assert results["role"] == "user"
    assert answer["parts"] == [{"text": "done", "thoughtSignature": TEXT_SIGNATURE}]
    sim_read(body, "gemini-2.5-flash")  # the simulator accepts it too


def test_gemini_3_gets_the_placeholder_only_where_a_call_has_no_signature() -> None:
    foreign = ToolCall("call_1", "lookup", {}, provider="openai")
    result = ToolResultPart.for_call(foreign, "ok")
    messages = [Message("user", "q"), Message("assistant", [foreign]), Message("user", [result])]
    three = generate_body(request("gemini-3-pro-preview", messages))
    two = generate_body(request("gemini-2.5-flash", messages))
    assert three["contents"][1]["parts"][0]["thoughtSignature"] == SKIP_SIGNATURE
    assert "thoughtSignature" not in two["contents"][1]["parts"][0]
    sim_read(three, "gemini-3-pro-preview")
    with pytest.raises(Exception, match="missing a thought_signature"):
        sim_read(two, "gemini-3-pro-preview")


def test_history_gemini_cannot_take_is_refused_naming_the_part() -> None:
    orphan = ToolResultPart("nowhere", "ok")
    with pytest.raises(InvalidRequestError, match="message 1 part 0: Gemini matches"):
        generate_body(
            request("gemini-2.5-flash", [Message("user", "q"), Message("user", [orphan])])
        )
    call = ToolCall("c", "f", {})
    with pytest.raises(InvalidRequestError, match="ToolCall belongs in an assistant"):
        generate_body(request("gemini-2.5-flash", [Message("user", [call])]))


def test_tool_choice_output_and_thinking_fields(gemini_spec: Any) -> None:
    spec = ToolSpec(
        "lookup", "", {"type": "object", "properties": {"q": {"type": "string", "minLength": 2}}}
    )
    schema = {"type": "object", "properties": {"kind": {"const": "a"}}, "required": ["kind"]}
    body = generate_body(
        request(
            "gemini-2.5-pro",
            [Message("user", "q")],
            tools=[spec],
            tool_choice="lookup",
            output=schema,
            reasoning=2048,
            temperature=0.2,
            user="someone",
        )
    )
    gemini_spec.validate("GenerateContentRequest", body)
    declaration = body["tools"][0]["functionDeclarations"][0]
    assert declaration["description"] == "lookup"  # required by the API: the name stands in
    assert declaration["parametersJsonSchema"]["properties"]["q"] == {"type": "string"}
    assert body["toolConfig"] == {
        "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["lookup"]}
    }
    config = body["generationConfig"]
    assert config["responseJsonSchema"]["properties"]["kind"] == {"enum": ["a"]}
    assert config["thinkingConfig"] == {"thinkingBudget": 2048, "includeThoughts": True}
    assert config["temperature"] == 0.2 and "someone" not in json.dumps(body)
    sim_read(body, "gemini-2.5-pro")


@pytest.mark.parametrize(
    ("model", "reasoning", "expected"),
    [
        ("gemini-3-pro-preview", "low", {"thinkingLevel": "LOW", "includeThoughts": True}),
        ("gemini-3-flash", 0, {"thinkingLevel": "MINIMAL", "includeThoughts": True}),
        ("gemini-3-flash", 5000, {"thinkingLevel": "MEDIUM", "includeThoughts": True}),
        ("gemini-3-flash", 50000, {"thinkingLevel": "HIGH", "includeThoughts": True}),
        ("gemini-2.5-flash", "high", {"thinkingBudget": 24576, "includeThoughts": True}),
        ("gemini-2.5-flash", 0, {"thinkingBudget": 0, "includeThoughts": False}),
    ],
)
def test_reasoning_maps_per_model_generation(model: str, reasoning: Any, expected: Any) -> None:
    assert thinking_config(model, reasoning) == expected
    body = generate_body(request(model, [Message("user", "q")], reasoning=reasoning))
    sim_read(body, model)


def test_reasoning_and_a_thinking_budget_parameter_conflict() -> None:
    with pytest.raises(InvalidRequestError, match="not both"):
        generate_body(
            request("gemini-2.5-flash", [Message("user", "q")], reasoning="low", thinking_budget=5)
        )
    # A configured default gives way to the call's reasoning=.
    body = generate_body(
        request("gemini-2.5-flash", [Message("user", "q")], reasoning="low"), {"thinking_budget": 5}
    )
    assert body["generationConfig"]["thinkingConfig"]["thinkingBudget"] == 1024


def test_the_openapi_subset_inlines_refs_and_refuses_what_it_cannot_say() -> None:
    schema = {
        "type": "object",
        "properties": {
            "place": {"$ref": "#/$defs/Place"},
            "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
        },
        "required": ["place"],
        "additionalProperties": False,
        "$defs": {"Place": {"type": "object", "properties": {"name": {"type": "string"}}}},
    }
    converted = to_openapi(schema)
    assert converted["properties"]["place"]["type"] == "OBJECT"
    assert converted["properties"]["note"] == {"type": "STRING", "nullable": True}
    assert converted["properties"]["tags"]["maxItems"] == "3"  # int64 as a string
    assert "additionalProperties" not in converted and "$defs" not in converted
    back = from_openapi(converted)
    jsonschema.validate({"place": {"name": "x"}, "note": None, "tags": ["a"]}, back)
    recursive = {
        "$defs": {"N": {"type": "object", "properties": {"next": {"$ref": "#/$defs/N"}}}},
        "$ref": "#/$defs/N",
    }
    for bad, fragment in [
        (recursive, "recursive"),
        ({"type": "integer", "enum": [1, 2]}, "string enums"),
        ({"type": "array", "prefixItems": [{"type": "string"}]}, "prefixItems"),
        ({"not": {"type": "string"}}, "'not'"),
        ({"type": "object", "additionalProperties": {"type": "integer"}}, "free-form map"),
    ]:
        with pytest.raises(SchemaSubsetError, match=fragment):
            to_openapi(bad)
    with pytest.raises(InvalidRequestError, match="OpenAPI schema subset"):
        generate_body(
            request(
                "gemini-2.0-flash", [Message("user", "q")], output={"type": "integer", "enum": [1]}
            )
        )


# --- property: what the connector sends, the simulator answers validly ---------------------


@attrs.frozen
class Place:
    name: str
    lat: float


_LEAVES: list[Any] = [str, int, float, bool, Literal["a", "b"], Place]


def _annotations() -> st.SearchStrategy[Any]:
    return st.recursive(
        st.sampled_from(_LEAVES),
        lambda inner: st.one_of(
            inner.map(lambda t: list[t]),  # type: ignore[valid-type]
            inner.map(lambda t: t | None),
            inner.map(lambda t: dict[str, t]),  # type: ignore[valid-type]
            st.tuples(inner, inner).map(lambda ts: tuple[ts[0], ts[1]]),  # type: ignore[valid-type]
        ),
        max_leaves=4,
    )


@st.composite
def _signatures(draw: st.DrawFn) -> inspect.Signature:
    names = draw(
        st.lists(
            st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True).filter(
                lambda n: not keyword.iskeyword(n)
            ),
            max_size=4,
            unique=True,
        )
    )
    params = []
    for name in names:
        default = draw(st.booleans())
        params.append(
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=draw(_annotations()),
                default=None if default else inspect.Parameter.empty,
            )
        )
    return inspect.Signature(params)


@settings(max_examples=80, deadline=None)
@given(
    signature=_signatures(),
    seed=st.integers(0, 2**32 - 1),
    target=st.sampled_from(
        [("gemini-2.5-flash", None), ("gemini-2.5-flash", "v1"), ("gemini-2.0-flash", None)]
    ),
)
def test_any_signature_tool_gemini_accepts_gets_simulator_arguments_valid_against_its_schema(
    signature: inspect.Signature, seed: int, target: tuple[str, str | None]
) -> None:
    def fn(**kwargs: Any) -> None:
        """A generated tool."""

    fn.__signature__ = signature  # type: ignore[attr-defined]
    fn.__annotations__ = {p.name: p.annotation for p in signature.parameters.values()}
    spec = ToolSpec.from_function(fn)
    model, version = target
    try:
        body = generate_body(
            request(model, [Message("user", "q")], tools=[spec]), api_version=version
        )
    except InvalidRequestError as exc:
        # Only the OpenAPI subset may refuse, and it says what it cannot express.
        assert version == "v1" or model == "gemini-2.0-flash"
        assert "OpenAPI schema subset" in exc.message
        return
    (tool,) = sim_read(body, model).tools
    arguments = instance_for(dict(tool.schema), random.Random(seed))
    jsonschema.validate(arguments, spec.parameters, cls=jsonschema.Draft202012Validator)


def _png(width: int, height: int) -> bytes:
    return b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + struct.pack(">II", width, height) + b"\x08\x02"


def test_media_is_estimated_by_geminis_rule(
    plugin_host: PluginHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEMINI_EST_KEY", "k")
    plugin_host.register(GeminiPlugin(), "gemini")
    table = {"base_url": "http://127.0.0.1:9/v1beta", "api_key": "env:GEMINI_EST_KEY"}
    hub = Hub.from_dict({"connectors": {"gemini": table}}, host=plugin_host)
    conn = hub.runtime("gemini").connector
    assert media_tokens(Image.from_bytes(_png(300, 200), "image/png")) == 258
    assert media_tokens(Image.from_bytes(_png(1000, 800), "image/png")) == 258 * 2 * 2
    assert media_tokens(Image.from_url(FILES + "x", "image/jpeg")) == 258 * 4  # size unknown
    pdf = b"%PDF /Type /Pages /Type /Page x /Type/Page y"
    assert media_tokens(Document.from_bytes(pdf)) == 258 * 2
    text = CompletionRequest("gemini-2.5-flash", (Message("user", "x" * 40),))
    small = Image.from_bytes(_png(10, 10), "image/png")
    call = ToolCall("c", "f", {})
    rich = CompletionRequest(
        "gemini-2.5-flash",
        (
            Message("user", ["x" * 40, small]),
            Message("assistant", [call]),
            Message("user", [ToolResultPart.for_call(call, [small])]),
        ),
    )
    base = conn.estimate_tokens(text)
    extra = conn.estimate_tokens(rich) - base
    # Two images at 258 each, and the call and result framing (a few characters).
    assert 2 * 258 <= extra < 2 * 258 + 10


def test_a_tool_without_arguments_declares_no_parameters_in_the_openapi_form() -> None:
    def ping() -> None:
        """Ping."""

    old = generate_body(request("gemini-2.0-flash", [Message("user", "q")], tools=[ping]))
    new = generate_body(request("gemini-2.5-flash", [Message("user", "q")], tools=[ping]))
    assert old["tools"][0]["functionDeclarations"] == [{"name": "ping", "description": "Ping."}]
    assert "parametersJsonSchema" in new["tools"][0]["functionDeclarations"][0]
    (tool,) = sim_read(old, "gemini-2.0-flash").tools
    assert instance_for(dict(tool.schema), random.Random(1)) == {}
