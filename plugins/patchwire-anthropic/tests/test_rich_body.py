"""Rich request bodies and reply parsing without a server: any mix of parts, tools, choices,
output and reasoning gives a body the spec accepts; thinking budgets stay in the API's
range; replies and streams become parts, with bad argument text kept in the error."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from patchwire import (
    Document,
    Image,
    Message,
    Reasoning,
    Text,
    ToolCall,
    ToolResultPart,
    ToolSpec,
)
from patchwire.errors import ConfigError, InvalidRequestError
from patchwire.features import split_features
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.tools import ToolArgumentsError
from patchwire.types import CompletionRequest
from patchwire_anthropic.connector import AnthropicConnector
from patchwire_anthropic.reply import BlockAssembler, content_parts, finish_reason
from patchwire_anthropic.request import MIN_THINKING_BUDGET, closed_schema, thinking_budget

FitsSpec = Callable[[Any], None]
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(16))
TOOLS = [
    ToolSpec(
        "get_weather", "Weather.", {"type": "object", "properties": {"city": {"type": "string"}}}
    ),
    ToolSpec("get_time", "", {"type": "object", "properties": {}}),
]


def connector(host: PluginHost, version: str | None) -> AnthropicConnector:
    table: dict[str, Any] = {"api_key": "env:ANTHROPIC_SIM_KEY"}
    if version:
        table["api_version"] = version
    made = (
        Hub.from_dict({"connectors": {"anthropic": table}}, host=host)
        .runtime("anthropic")
        .connector
    )
    assert isinstance(made, AnthropicConnector)
    return made


call = ToolCall("toolu_1", "get_weather", {"city": "Oslo"}, provider="anthropic")
user_parts = st.lists(
    st.sampled_from(
        [
            "look",
            Image.from_bytes(PNG, "image/png"),
            Image.from_url("https://example.test/a.jpg"),
            Document.from_bytes(b"%PDF-1.4"),
            Document.from_url("https://example.test/a.pdf"),
            Document.from_bytes(b"plain words", "text/plain"),
        ]
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    parts=user_parts,
    with_exchange=st.booleans(),
    is_error=st.booleans(),
    choice=st.sampled_from([None, "auto", "none", "required", "get_time"]),
    parallel=st.sampled_from([None, True, False]),
    output=st.booleans(),
    reasoning=st.one_of(
        st.none(), st.sampled_from(["low", "medium", "high"]), st.integers(0, 40000)
    ),
    max_tokens=st.one_of(st.none(), st.integers(1100, 64000)),
    legacy=st.booleans(),
    stream=st.booleans(),
)
def test_any_rich_request_gives_a_body_the_spec_accepts(
    anthropic_host: PluginHost,
    key: str,
    fits_spec: FitsSpec,
    parts: list[Any],
    with_exchange: bool,
    is_error: bool,
    choice: str | None,
    parallel: bool | None,
    output: bool,
    reasoning: str | int | None,
    max_tokens: int | None,
    legacy: bool,
    stream: bool,
) -> None:
    """Invariant: whatever mix of parts, tool exchange, choice, output and reasoning, the
    body validates as CreateMessageParams (output_config on its own), a thinking budget is
    in [1024, max_tokens), and every tool_use is answered in the very next message."""
    conn = connector(anthropic_host, "2023-06-01" if legacy else None)
    messages = [Message("system", "be brief"), Message("user", parts)]
    if with_exchange:
        thought = Reasoning("hm", signature="sig", provider="anthropic")
        messages += [
            Message("assistant", [thought, "calling", call]),
            Message(
                "tool", [ToolResultPart.for_call(call, [*parts[:1], "done"], is_error=is_error)]
            ),
            Message("user", "and now?"),
        ]
    keywords: dict[str, Any] = {
        "tools": TOOLS,
        "tool_choice": choice,
        "parallel_tool_calls": parallel,
    }
    if output:
        keywords["output"] = {
            "type": "object",
            "properties": {"a": {"type": "string"}},
            "required": ["a"],
        }
    if reasoning is not None:
        keywords["reasoning"] = reasoning
    if max_tokens is not None:
        keywords["max_tokens"] = max_tokens
    params, features = split_features(keywords)
    request = CompletionRequest("claude-haiku-4-5", tuple(messages), params, None, features)
    conn.validate(request)
    body = conn.body(request, stream=stream)
    thinking = body.get("thinking", {})
    if thinking.get("type") == "enabled":
        assert MIN_THINKING_BUDGET <= thinking["budget_tokens"] < body["max_tokens"]
    if with_exchange:
        sent = body["messages"]
        asked = [b["id"] for b in sent[1]["content"] if b["type"] == "tool_use"]
        answered = [b["tool_use_id"] for b in sent[2]["content"] if b["type"] == "tool_result"]
        assert asked == answered == ["toolu_1"] and sent[2]["content"][0]["type"] == "tool_result"
        assert len(sent) == 3  # the tool message and the next user message merged
    fits_spec(body)


@given(
    st.one_of(st.sampled_from(["low", "medium", "high"]), st.integers(1, 100_000)),
    st.integers(1025, 200_000),
)
def test_a_thinking_budget_is_always_in_the_apis_range(
    reasoning: str | int, max_tokens: int
) -> None:
    """Invariant: 1024 <= budget_tokens < max_tokens whenever max_tokens leaves room."""
    assert MIN_THINKING_BUDGET <= thinking_budget(reasoning, max_tokens) < max_tokens


def test_refusals_name_the_part_and_come_before_sending(
    anthropic_host: PluginHost, key: str
) -> None:
    conn = connector(anthropic_host, None)

    def check(*messages: Message, **keywords: Any) -> None:
        params, features = split_features(keywords)
        conn.validate(CompletionRequest("m", messages, params, None, features))

    with pytest.raises(InvalidRequestError, match="message 0: tool calls belong"):
        check(Message("user", [call]))
    with pytest.raises(InvalidRequestError, match="needs ToolResultPart"):
        check(Message("tool", "plain text"))
    with pytest.raises(InvalidRequestError, match="system prompt is text only"):
        check(Message("system", ["x", Image.from_bytes(PNG, "image/png")]), Message("user", "y"))
    legacy = connector(anthropic_host, "2023-06-01")
    params, features = split_features(
        {"tools": TOOLS, "output": {"title": "get_time", "type": "object"}}
    )
    with pytest.raises(InvalidRequestError, match="same name"):
        legacy.validate(CompletionRequest("m", (Message("user", "x"),), params, None, features))


def test_stop_reasons_map_to_patchwires_words() -> None:
    assert [
        finish_reason(r)
        for r in (
            "end_turn",
            "stop_sequence",
            "max_tokens",
            "tool_use",
            "refusal",
            "pause_turn",
            "new",
        )
    ] == ["stop", "stop", "length", "tool_calls", "refusal", "pause", "other"]
    assert finish_reason("tool_use", answered_by_tool=True) == "stop"
    assert finish_reason(None) is None


def test_reply_blocks_become_parts_in_order() -> None:
    content = [
        {"type": "thinking", "thinking": "t", "signature": "s"},
        {"type": "redacted_thinking", "data": "d"},
        {"type": "text", "text": "calling"},
        {"type": "tool_use", "id": "toolu_9", "name": "f", "input": {"x": [1, 2]}},
    ]
    text, parts, answered = content_parts(content, "claude-x")
    assert text == "calling" and not answered
    thinking, redacted, said, used = parts
    assert said == Text("calling")
    assert (
        isinstance(thinking, Reasoning)
        and thinking.signature == "s"
        and thinking.model == "claude-x"
    )
    assert isinstance(redacted, Reasoning) and redacted.encrypted == "d"
    assert isinstance(used, ToolCall) and used.arguments == {"x": [1, 2]}
    assert used.raw_arguments == '{"x":[1,2]}'
    assert content_parts([{"type": "text", "text": "plain"}], "m") == ("plain", (), False)
    with pytest.raises(ToolArgumentsError):
        content_parts([{"type": "tool_use", "id": "t", "name": "f", "input": [1]}], "m")


def test_streamed_arguments_that_do_not_parse_are_an_integration_error_keeping_the_text() -> None:
    blocks = BlockAssembler("m")
    blocks.start(0, {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}})
    blocks.delta(0, {"type": "input_json_delta", "partial_json": '{"city": "Os'})
    with pytest.raises(ToolArgumentsError) as info:
        blocks.parts()
    assert info.value.raw_arguments == '{"city": "Os' and info.value.category.value == "integration"


def test_a_streamed_turn_is_assembled_with_the_signature_and_calls_numbered_from_zero() -> None:
    blocks = BlockAssembler("m")
    blocks.start(0, {"type": "thinking", "thinking": "", "signature": ""})
    got = blocks.delta(0, {"type": "thinking_delta", "thinking": "abc"})
    assert got is not None and got.reasoning == "abc"
    blocks.delta(0, {"type": "signature_delta", "signature": "SIG"})
    opened = blocks.start(1, {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}})
    assert opened is not None and opened.call is not None and opened.call.index == 0
    blocks.delta(1, {"type": "input_json_delta", "partial_json": '{"a":'})
    blocks.delta(1, {"type": "input_json_delta", "partial_json": "1}"})
    text, (thinking, used) = blocks.parts()
    assert text == "" and isinstance(thinking, Reasoning) and thinking.signature == "SIG"
    assert isinstance(used, ToolCall) and used.arguments == {"a": 1}


def test_closed_schema_closes_every_object_and_keeps_explicit_choices() -> None:
    schema = {
        "type": "object",
        "properties": {
            "inner": {"type": "object", "properties": {"x": {"type": "string"}}},
            "free": {"type": "object", "additionalProperties": True},
            "items": {"type": "array", "items": {"type": "object", "properties": {}}},
        },
        "$defs": {"D": {"type": "object"}},
    }
    closed = closed_schema(schema)
    assert closed["additionalProperties"] is False
    assert closed["properties"]["inner"]["additionalProperties"] is False
    assert closed["properties"]["free"]["additionalProperties"] is True
    assert closed["properties"]["items"]["items"]["additionalProperties"] is False
    assert closed["$defs"]["D"]["additionalProperties"] is False
    assert "additionalProperties" not in schema  # the caller's schema is not changed
    assert json.dumps(closed)  # still plain JSON


@pytest.mark.parametrize(
    ("choice", "sent"),
    [
        (None, {"type": "any"}),
        ("auto", {"type": "any"}),
        ("required", {"type": "any"}),
        ("get_time", {"type": "tool", "name": "get_time"}),
        ("none", {"type": "tool", "name": "answer", "disable_parallel_tool_use": True}),
    ],
)
def test_legacy_output_beside_tools_lets_the_model_call_them_or_answer(
    anthropic_host: PluginHost, key: str, choice: str | None, sent: dict[str, Any]
) -> None:
    """Under 2023-06-01 output= is a tool: beside the caller's tools some tool must be
    called (a call to the answer tool is the answer); with their tools barred, it is forced."""
    conn = connector(anthropic_host, "2023-06-01")
    output = {"title": "answer", "type": "object", "properties": {}}
    params, features = split_features({"tools": TOOLS, "tool_choice": choice, "output": output})
    body = conn.body(
        CompletionRequest("m", (Message("user", "x"),), params, None, features), stream=False
    )
    assert body["tool_choice"] == sent
    assert [t["name"] for t in body["tools"]] == ["get_weather", "get_time", "answer"]


def test_a_temperature_the_version_cannot_send_makes_nothing_deterministic(
    anthropic_host: PluginHost, key: str
) -> None:
    request = CompletionRequest("m", (Message("user", "x"),), {"temperature": 0})
    assert not connector(anthropic_host, None).is_deterministic(request)
    assert connector(anthropic_host, "2023-06-01").is_deterministic(request)


def test_a_strict_tool_is_sent_strict_and_closed_only_where_it_fits(
    anthropic_host: PluginHost, key: str, fits_spec: FitsSpec
) -> None:
    fits = ToolSpec(
        "lookup",
        "Look up.",
        {"type": "object", "properties": {"q": {"type": "string"}}},
        strict=True,
    )
    bounded = ToolSpec(
        "count",
        "",
        {"type": "object", "properties": {"n": {"type": "integer", "minimum": 1}}},
        strict=True,
    )
    plain = ToolSpec("plain", "", {"type": "object", "properties": {}})
    params, features = split_features({"tools": [fits, bounded, plain]})
    request = CompletionRequest("m", (Message("user", "x"),), params, None, features)
    current = connector(anthropic_host, None).body(request, stream=False)["tools"]
    assert current[0]["strict"] is True
    assert current[0]["input_schema"]["additionalProperties"] is False
    assert "strict" not in current[1] and "strict" not in current[2]
    legacy = connector(anthropic_host, "2023-06-01").body(request, stream=False)["tools"]
    assert all("strict" not in t for t in legacy)
    fits_spec({"model": "m", "max_tokens": 5, "messages": [], "tools": current})


def test_reasoning_with_too_small_a_max_tokens_is_refused_before_sending(
    anthropic_host: PluginHost, key: str
) -> None:
    conn = connector(anthropic_host, None)
    params, features = split_features({"reasoning": "low", "max_tokens": 1024})
    with pytest.raises(InvalidRequestError, match="max_tokens above 1024"):
        conn.validate(CompletionRequest("m", (Message("user", "x"),), params, None, features))
    params, features = split_features({"reasoning": "high"})
    request = CompletionRequest("m", (Message("user", "x"),), params, None, features)
    conn.validate(request)  # no max_tokens: the default plus the budget
    assert conn.body(request, stream=False)["max_tokens"] == 1024 + 16384


def test_a_turn_left_empty_by_dropped_reasoning_is_left_out_and_neighbours_merge(
    anthropic_host: PluginHost, key: str, fits_spec: FitsSpec
) -> None:
    foreign = Reasoning("summary", encrypted="opaque", provider="openai")
    messages = (
        Message("user", "a"),
        Message("assistant", [foreign]),
        Message("user", ["b", Image.from_bytes(PNG, "image/png")]),
        Message("assistant", "c"),
        Message("assistant", "d"),
    )
    body = connector(anthropic_host, None).body(CompletionRequest("m", messages), stream=False)
    assert [m["role"] for m in body["messages"]] == ["user", "assistant"]
    assert [b.get("text") for b in body["messages"][0]["content"]] == ["a", "b", None]
    assert body["messages"][1]["content"] == [
        {"type": "text", "text": "c"},
        {"type": "text", "text": "d"},
    ]
    fits_spec(body)


def test_data_urls_travel_as_base64_sources_and_non_base64_ones_are_refused(
    anthropic_host: PluginHost, key: str, fits_spec: FitsSpec
) -> None:
    conn = connector(anthropic_host, None)
    encoded = Image.from_bytes(PNG, "image/png").data_url()
    good = CompletionRequest("m", (Message("user", ["x", Image.from_url(encoded)]),))
    body = conn.body(good, stream=False)
    assert body["messages"][0]["content"][1]["source"] == {
        "type": "base64",
        "media_type": "image/png",
        "data": Image.from_bytes(PNG, "image/png").base64(),
    }
    fits_spec(body)
    raw = Image.from_url("data:image/png,not-base64", "image/png")
    with pytest.raises(InvalidRequestError, match="must be base64"):
        conn.validate(CompletionRequest("m", (Message("user", ["x", raw]),)))


def test_adaptive_thinking_families_are_configurable_and_checked(
    anthropic_host: PluginHost, key: str
) -> None:
    table = {"api_key": "env:ANTHROPIC_SIM_KEY", "adaptive_thinking": ["claude-haiku-4-5"]}
    hub = Hub.from_dict({"connectors": {"anthropic": table}}, host=anthropic_host)
    conn = hub.runtime("anthropic").connector
    assert isinstance(conn, AnthropicConnector)
    assert conn.adaptive("claude-haiku-4-5-20251001") and not conn.adaptive("claude-opus-4-8")
    with pytest.raises(ConfigError) as info:
        Hub.from_dict(
            {"connectors": {"anthropic": {**table, "adaptive_thinking": [3]}}}, host=anthropic_host
        )
    assert info.value.key == "adaptive_thinking"
