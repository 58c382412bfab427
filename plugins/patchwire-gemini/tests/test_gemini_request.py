"""Request bodies: patchwire requests in Gemini's wire format, checked against the spec."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.errors import InvalidRequestError
from patchwire.types import CompletionRequest, EmbeddingRequest, Message
from patchwire_gemini.request import (
    MAX_BATCH,
    batch_embed_body,
    embed_body,
    generate_body,
    model_resource,
    model_url,
)

texts = st.text(min_size=0, max_size=40)
messages = st.lists(
    st.builds(Message, st.sampled_from(["system", "user", "assistant"]), texts),
    min_size=1,
    max_size=8,
).filter(lambda ms: any(m.role != "system" for m in ms))

param_values = st.fixed_dictionaries(
    {},
    optional={
        "max_tokens": st.integers(1, 65536),
        "temperature": st.floats(0, 2),
        "top_p": st.floats(0, 1),
        "top_k": st.integers(1, 100),
        "stop": st.one_of(texts, st.lists(texts, max_size=5)),
        "seed": st.integers(-(2**31), 2**31 - 1),
        "presence_penalty": st.floats(-2, 2),
        "frequency_penalty": st.floats(-2, 2),
        "thinking_budget": st.integers(-1, 32768),
    },
)


@settings(max_examples=150, deadline=None)
@given(messages, param_values)
def test_every_generate_body_validates_and_keeps_the_conversation(
    gemini_spec: Any, msgs: list[Message], params: dict[str, Any]
) -> None:
    """Invariant: for any conversation and any in-range parameters, the body validates against
    GenerateContentRequest, turns alternate between user and model, every non-system text
    appears once in order, and every system text lands in systemInstruction in order."""
    body = generate_body(CompletionRequest("gemini-2.5-flash", tuple(msgs), params))
    gemini_spec.validate("GenerateContentRequest", body)
    roles = [c["role"] for c in body["contents"]]
    assert all(a != b for a, b in itertools.pairwise(roles))
    sent = [p["text"] for c in body["contents"] for p in c["parts"]]
    assert sent == [m.content for m in msgs if m.role != "system"]
    system = [m.content for m in msgs if m.role == "system"]
    if system:
        assert [p["text"] for p in body["systemInstruction"]["parts"]] == system
    else:
        assert "systemInstruction" not in body


def test_parameters_map_to_generation_config(gemini_spec: Any) -> None:
    request = CompletionRequest(
        "gemini-2.5-pro",
        (Message("system", "be brief"), Message("user", "hi"), Message("assistant", "hello")),
        {"max_tokens": 50, "temperature": 0.2, "top_p": 0.9, "stop": "END", "seed": 7},
    )
    body = generate_body(request, {"thinking_budget": 128})
    gemini_spec.validate("GenerateContentRequest", body)
    assert body == {
        "model": "models/gemini-2.5-pro",
        "contents": [
            {"role": "user", "parts": [{"text": "hi"}]},
            {"role": "model", "parts": [{"text": "hello"}]},
        ],
        "systemInstruction": {"parts": [{"text": "be brief"}]},
        "generationConfig": {
            "maxOutputTokens": 50,
            "temperature": 0.2,
            "topP": 0.9,
            "stopSequences": ["END"],
            "seed": 7,
            "thinkingConfig": {"thinkingBudget": 128},
        },
    }


def test_a_call_parameter_overrides_the_configured_default() -> None:
    request = CompletionRequest("m", (Message("user", "x"),), {"thinking_budget": 0})
    body = generate_body(request, {"thinking_budget": 1024})
    assert body["generationConfig"] == {"thinkingConfig": {"thinkingBudget": 0}}


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"logit_bias": {}}, "does not support the generation parameter 'logit_bias'"),
        ({"temperature": 3}, "between 0 and 2"),
        ({"temperature": True}, "expected a number"),
        ({"max_tokens": 0}, "between 1 and"),
        ({"max_tokens": 1.5}, "expected an integer"),
        ({"stop": ["a", "b", "c", "d", "e", "f"]}, "at most 5 stop sequences"),
        ({"stop": 3}, "string or a list of strings"),
        ({"thinking_budget": -2}, "between -1 and"),
    ],
)
def test_a_parameter_the_api_would_refuse_is_refused_before_sending(
    params: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(InvalidRequestError) as info:
        generate_body(CompletionRequest("m", (Message("user", "x"),), params))
    assert fragment in info.value.message


def test_only_system_messages_or_a_tool_message_are_refused() -> None:
    with pytest.raises(InvalidRequestError, match="at least one user or assistant"):
        generate_body(CompletionRequest("m", (Message("system", "x"),)))
    with pytest.raises(
        InvalidRequestError, match="a 'tool' message must hold ToolResultPart parts"
    ):
        generate_body(CompletionRequest("m", (Message("user", "x"), Message("tool", "42"))))


def test_model_names_become_resource_names_and_url_segments() -> None:
    assert model_resource("gemini-2.5-flash") == "models/gemini-2.5-flash"
    assert model_resource("models/gemini-2.5-flash") == "models/gemini-2.5-flash"
    assert model_resource("tunedModels/abc-123") == "tunedModels/abc-123"
    assert (
        model_url("https://h/v1beta/", "gemini-2.5-flash", "generateContent")
        == "https://h/v1beta/models/gemini-2.5-flash:generateContent"
    )
    assert model_url("https://h/v1beta", "a b?c", "x") == "https://h/v1beta/models/a%20b%3Fc:x"


@settings(max_examples=50, deadline=None)
@given(
    st.lists(texts, min_size=1, max_size=MAX_BATCH),
    st.fixed_dictionaries(
        {},
        optional={
            "dimensions": st.integers(1, 3072),
            "task_type": st.sampled_from(["RETRIEVAL_DOCUMENT", "SEMANTIC_SIMILARITY"]),
        },
    ),
)
def test_every_embedding_body_validates_and_keeps_input_order(
    gemini_spec: Any, inputs: list[str], params: dict[str, Any]
) -> None:
    """Invariant: single and batch embedding bodies validate against EmbedContentRequest and
    BatchEmbedContentsRequest, and the batch carries every input once, in order, each naming
    the model of the path."""
    request = EmbeddingRequest("gemini-embedding-001", tuple(inputs), params)
    single = embed_body(request, inputs[0])
    gemini_spec.validate("EmbedContentRequest", single)
    batch = batch_embed_body(request)
    gemini_spec.validate("BatchEmbedContentsRequest", batch)
    assert [r["content"]["parts"][0]["text"] for r in batch["requests"]] == inputs
    assert {r["model"] for r in batch["requests"]} == {"models/gemini-embedding-001"}


def test_embedding_parameters_and_batch_limit() -> None:
    request = EmbeddingRequest("e", ("a",), {"dimensions": 256})
    assert embed_body(request, "a", {"task_type": "CLUSTERING"}) == {
        "model": "models/e",
        "content": {"parts": [{"text": "a"}]},
        "outputDimensionality": 256,
        "taskType": "CLUSTERING",
    }
    with pytest.raises(InvalidRequestError, match="expected one of"):
        batch_embed_body(EmbeddingRequest("e", ("a",), {"task_type": "NOPE"}))
    with pytest.raises(InvalidRequestError, match="at most 100 texts"):
        batch_embed_body(EmbeddingRequest("e", ("a",) * (MAX_BATCH + 1)))


def test_the_spec_check_is_not_vacuous(gemini_spec: Any) -> None:
    """A misspelt field or a wrong type fails: the closed schemas catch what Google's allow."""
    from jsonschema import ValidationError

    good = generate_body(CompletionRequest("m", (Message("user", "x"),), {"max_tokens": 5}))
    for broken in (
        {**good, "generationConfig": {"maxOutputToken": 5}},
        {**good, "contents": [{"role": "user", "parts": [{"txt": "x"}]}]},
        {**good, "generationConfig": {"temperature": "hot"}},
        {"model": "models/m"},
    ):
        with pytest.raises(ValidationError):
            gemini_spec.validate("GenerateContentRequest", broken)
