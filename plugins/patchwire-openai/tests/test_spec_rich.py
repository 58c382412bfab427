"""Property: every rich chat body the connector builds fits OpenAI's published spec."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from patchwire import Document, Image, Message, Reasoning, Text, ToolCall, ToolResultPart, ToolSpec
from patchwire.features import split_features
from patchwire.types import CompletionRequest
from patchwire_openai.connector import OpenAIConnector

Validate = Callable[[str, Any], None]

_schemas = st.dictionaries(
    st.sampled_from(["city", "days", "unit", "tags"]),
    st.sampled_from(
        [
            {"type": "string"},
            {"type": "integer"},
            {"enum": ["c", "f"]},
            {"type": "array", "items": {"type": "string"}},
            {"type": ["string", "null"]},
        ]
    ),
    max_size=4,
).flatmap(
    lambda props: st.builds(
        lambda required, closed: {
            "type": "object",
            "properties": props,
            "required": sorted(required),
            **({"additionalProperties": False} if closed else {}),
        },
        st.sets(st.sampled_from(sorted(props)), max_size=4) if props else st.just(set()),
        st.booleans(),
    )
)
_tools = st.lists(
    st.builds(
        ToolSpec,
        st.sampled_from(["get_weather", "lookup", "get_time"]),
        st.text(max_size=20),
        _schemas,
    ),
    min_size=1,
    max_size=3,
    unique_by=lambda t: t.name,
)
_media = st.one_of(
    st.binary(min_size=1, max_size=32).map(lambda b: Image.from_bytes(b, "image/png")),
    st.just(Image.from_url("https://example.test/cat.jpg", detail="high")),
    st.binary(min_size=1, max_size=32).map(lambda b: Document.from_bytes(b, filename="f.pdf")),
)
_user = st.lists(st.one_of(st.text(min_size=1, max_size=20), _media), min_size=1, max_size=3).map(
    lambda parts: Message("user", parts)
)


@st.composite
def _conversations(draw: st.DrawFn) -> list[Message]:
    messages: list[Message] = [draw(_user)]
    if draw(st.booleans()):
        calls = [
            ToolCall(f"call_{i}", "get_weather", {"city": "x"}, '{"city":"x"}')
            for i in range(draw(st.integers(1, 2)))
        ]
        thought = Reasoning("thinking", signature="sig", provider="anthropic")
        text = draw(st.sampled_from([[], [Text("let me check")]]))
        messages.append(Message("assistant", [thought, *text, *calls]))
        messages.append(
            Message(
                draw(st.sampled_from(["user", "tool"])),
                [ToolResultPart.for_call(c, "ok", is_error=draw(st.booleans())) for c in calls],
            )
        )
        messages.append(draw(_user))
    return messages


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    messages=_conversations(),
    tools=st.none() | _tools,
    choice=st.sampled_from([None, "auto", "none", "required", "first"]),
    parallel=st.none() | st.booleans(),
    output=st.none() | _schemas,
    reasoning=st.none() | st.sampled_from(["low", "medium", "high", 0, 2000, 9000]),
    stream=st.booleans(),
)
def test_every_rich_chat_body_fits_the_spec(
    validate: Validate,
    messages: list[Message],
    tools: list[ToolSpec] | None,
    choice: str | None,
    parallel: bool | None,
    output: dict[str, Any] | None,
    reasoning: str | int | None,
    stream: bool,
) -> None:
    """Invariant: any conversation of parts, tools, choice, output and reasoning gives a valid body."""
    if choice == "first":
        choice = tools[0].name if tools else None
    if choice == "required" and not tools:
        choice = None
    params, features = split_features(
        {
            "tools": tools,
            "tool_choice": choice,
            "parallel_tool_calls": parallel,
            "output": output,
            "reasoning": reasoning,
            "max_tokens": 100,
        }
    )
    connector = object.__new__(OpenAIConnector)
    connector._max_tokens_field = "max_completion_tokens"
    connector.name = "openai"
    request = CompletionRequest("gpt-4o-mini", tuple(messages), params, None, features)
    connector.validate(request)
    validate("CreateChatCompletionRequest", connector.chat_body(request, stream=stream))
