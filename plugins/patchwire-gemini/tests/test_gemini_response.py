"""Reading Gemini's replies: text, usage, content blocks and errors carried in a 200."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.errors import (
    DegradedError,
    IntegrationError,
    InvalidRequestError,
    RateLimitedError,
)
from patchwire_gemini.response import (
    BLOCKED_FINISH_REASONS,
    parse_chunk,
    usage_from,
    vectors_from,
)

counts = st.integers(0, 2**31 - 1)


@settings(max_examples=200, deadline=None)
@given(counts, counts, counts, counts, counts)
def test_usage_counts_thoughts_as_output_and_tool_prompts_as_input(
    prompt: int, candidates: int, thoughts: int, tool: int, cached: int
) -> None:
    """Invariant (WIRE.md §3.1): input = prompt + toolUsePrompt, output = candidates + thoughts,
    so input + output = Google's totalTokenCount; cached and reasoning are reported as given."""
    cached = min(cached, prompt)
    usage = usage_from(
        {
            "promptTokenCount": prompt,
            "candidatesTokenCount": candidates,
            "thoughtsTokenCount": thoughts,
            "toolUsePromptTokenCount": tool,
            "cachedContentTokenCount": cached,
            "totalTokenCount": prompt + candidates + thoughts + tool,
        }
    )
    assert usage is not None
    assert usage.input_tokens == prompt + tool
    assert usage.output_tokens == candidates + thoughts
    assert usage.total_tokens == prompt + candidates + thoughts + tool
    assert (usage.cached_input_tokens, usage.reasoning_tokens) == (cached, thoughts)


def test_usage_fields_may_be_missing_or_strings_but_not_garbage() -> None:
    usage = usage_from({"promptTokenCount": "12"})
    assert usage is not None and (usage.input_tokens, usage.output_tokens) == (12, 0)
    assert usage_from(None) is None
    for bad in (
        {"promptTokenCount": "many"},
        {"promptTokenCount": -1},
        {"x": 1.5} | {"candidatesTokenCount": 1.5},
        [],
    ):
        with pytest.raises(IntegrationError):
            usage_from(bad)


def reply(parts: list[dict[str, Any]], finish: str | None = "STOP", **candidate_extra: Any) -> Any:
    candidate: dict[str, Any] = {
        "content": {"role": "model", "parts": parts},
        "index": 0,
        **candidate_extra,
    }
    if finish is not None:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], "responseId": "resp-1"}


def test_text_joins_parts_and_leaves_out_thoughts() -> None:
    chunk = parse_chunk(
        reply([{"text": "thinking...", "thought": True}, {"text": "Hello "}, {"text": "world"}]),
        model="m",
    )
    assert (chunk.text, chunk.finish_reason, chunk.response_id) == ("Hello world", "STOP", "resp-1")


def test_a_reply_cut_while_thinking_has_no_parts_and_empty_text() -> None:
    data = {"candidates": [{"content": {"role": "model"}, "finishReason": "MAX_TOKENS"}]}
    chunk = parse_chunk(data, model="m")
    assert (chunk.text, chunk.finish_reason) == ("", "MAX_TOKENS")


def test_a_blocked_prompt_is_a_classified_content_error() -> None:
    data = {
        "promptFeedback": {
            "blockReason": "SAFETY",
            "safetyRatings": [
                {"category": "HARM_CATEGORY_HARASSMENT", "probability": "HIGH", "blocked": True}
            ],
        },
        "usageMetadata": {"promptTokenCount": 9},
        "responseId": "r9",
    }
    with pytest.raises(InvalidRequestError) as info:
        parse_chunk(data, model="gemini-2.5-flash", connector="g")
    error = info.value
    assert (error.code, error.status, error.request_id) == ("SAFETY", 200, "r9")
    assert (error.connector, error.model) == ("g", "gemini-2.5-flash")
    assert "HARM_CATEGORY_HARASSMENT" in error.message


@pytest.mark.parametrize("reason", sorted(BLOCKED_FINISH_REASONS))
def test_a_filtered_finish_is_a_classified_content_error(reason: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        parse_chunk(reply([], reason, finishMessage="flagged"), model="m")
    assert info.value.code == reason
    assert "flagged" in info.value.message


def test_an_error_event_after_200_is_classified_from_its_status() -> None:
    overloaded = {
        "error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}
    }
    with pytest.raises(DegradedError) as info:
        parse_chunk(overloaded, model="m", connector="g")
    assert (info.value.status, info.value.code) == (503, "UNAVAILABLE")
    limited = {
        "error": {
            "code": 429,
            "message": "slow",
            "status": "RESOURCE_EXHAUSTED",
            "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "2s"}],
        }
    }
    with pytest.raises(RateLimitedError) as limited_info:
        parse_chunk(limited, model="m")
    assert limited_info.value.retry_after == 2.0


@pytest.mark.parametrize(
    "data",
    [
        [],
        {"candidates": "x"},
        {"candidates": []},
        {"candidates": ["x"]},
        {"candidates": [{"finishReason": 3}]},
        {"candidates": [{"content": {"parts": "text"}}]},
        {"candidates": [{"content": {"parts": ["text"]}}]},
    ],
)
def test_a_reply_of_the_wrong_shape_is_an_integration_error(data: Any) -> None:
    with pytest.raises(IntegrationError) as info:
        parse_chunk(data, model="m", connector="g")
    assert info.value.connector == "g"


def test_embedding_vectors_single_and_batch() -> None:
    assert vectors_from({"embedding": {"values": [1, 0.5]}}, 1, batch=False) == ((1.0, 0.5),)
    data = {"embeddings": [{"values": [0.1]}, {"values": [0.2]}]}
    assert vectors_from(data, 2, batch=True) == ((0.1,), (0.2,))
    for bad, n in (
        ({"embeddings": [{"values": [0.1]}]}, 2),
        ({"embeddings": [{"values": ["x"]}]}, 1),
        ({"embeddings": [{}]}, 1),
        ({}, 1),
    ):
        with pytest.raises(IntegrationError):
            vectors_from(bad, n, batch=True)
