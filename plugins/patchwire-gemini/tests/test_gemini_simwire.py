"""The simulator's Gemini wire format: what it accepts, and answers that match the spec."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.testing.sim_content import reply_text, stream_pieces
from patchwire.testing.sim_limits import LimitBreach, LimitKind
from patchwire.testing.sim_wire import (
    ErrorDetail,
    ErrorKind,
    SimReply,
    SimRequest,
    SimRoute,
    WireRequestError,
)
from patchwire.types import CompletionRequest, EmbeddingRequest, Message
from patchwire_gemini.request import batch_embed_body, embed_body, generate_body
from patchwire_gemini.simwire import BLOCK_PROMPT, BLOCK_RESPONSE, GeminiWire, format_duration
from patchwire_gemini.status import STATUS_CATEGORIES, classify_response, parse_duration

WIRE = GeminiWire()
ROUTES = {route.path.rsplit(":", 1)[1]: route for route in WIRE.routes}
PATH = {"model": "gemini-2.5-flash"}


def parse(method: str, body: Any) -> SimRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return WIRE.parse(ROUTES[method], raw, PATH)


def answer(request: SimRequest) -> SimReply:
    text, truncated = reply_text(request.prompt, request.max_tokens)
    return SimReply(
        "req_1",
        0,
        text=text,
        truncated=truncated,
        pieces=stream_pieces(text),
        input_tokens=request.input_tokens,
        output_tokens=len(text) // 4,
    )


def events(frames: tuple[bytes, ...]) -> list[Any]:
    out = []
    for frame in frames:
        assert frame.startswith(b"data: ") and frame.endswith(b"\r\n\r\n")
        out.append(json.loads(frame[6:]))
    return out


def test_connector_requests_parse_into_what_the_simulator_answers() -> None:
    body = generate_body(
        CompletionRequest(
            "gemini-2.5-flash",
            (Message("system", "be brief"), Message("user", "hello there")),
            {"max_tokens": 5},
        )
    )
    request = parse("generateContent", body)
    assert (request.prompt, request.max_tokens, request.stream) == ("hello there", 5, False)
    assert request.input_tokens > 0
    assert parse("streamGenerateContent", body).stream
    embeddings = EmbeddingRequest("gemini-2.5-flash", ("a", "bb"), {"dimensions": 8})
    single = parse("embedContent", embed_body(embeddings, "a"))
    assert (single.inputs, single.dimensions, single.options["batch"]) == (("a",), 8, False)
    batch = parse("batchEmbedContents", batch_embed_body(embeddings))
    assert (batch.inputs, batch.dimensions, batch.options["batch"]) == (("a", "bb"), 8, True)


def test_snake_case_fields_are_accepted_as_google_does() -> None:
    request = parse(
        "generateContent",
        {
            "contents": [{"parts": [{"text": "hi"}]}],
            "generation_config": {"max_output_tokens": 3},
            "system_instruction": {"parts": [{"text": "s"}]},
        },
    )
    assert request.max_tokens == 3


@pytest.mark.parametrize(
    ("method", "body", "fragment"),
    [
        ("generateContent", b"{not json", "Invalid JSON payload"),
        ("generateContent", {"contents": []}, "contents is not specified"),
        (
            "generateContent",
            {"contents": [{"parts": [{"text": "x"}]}], "prompt": "x"},
            'Unknown name "prompt"',
        ),
        (
            "generateContent",
            {"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]},
            "valid role",
        ),
        ("generateContent", {"contents": [{"parts": []}]}, "must not be empty"),
        (
            "generateContent",
            {"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"maxOutputToken": 1}},
            'Unknown name "maxOutputToken"',
        ),
        (
            "generateContent",
            {
                "contents": [{"parts": [{"text": "x"}]}],
                "generationConfig": {"maxOutputTokens": "1"},
            },
            "TYPE_INT32",
        ),
        (
            "batchEmbedContents",
            {"requests": [{"model": "models/other", "content": {"parts": [{"text": "x"}]}}]},
            "does not match the model in the path",
        ),
        ("batchEmbedContents", {"requests": []}, "requests is not specified"),
    ],
)
def test_requests_gemini_would_refuse_are_refused(method: str, body: Any, fragment: str) -> None:
    with pytest.raises(WireRequestError) as info:
        parse(method, body)
    assert fragment in info.value.message


def test_a_success_and_every_stream_event_match_the_spec(gemini_spec: Any) -> None:
    request = parse(
        "streamGenerateContent", {"contents": [{"role": "user", "parts": [{"text": "one two"}]}]}
    )
    reply = answer(request)
    whole = json.loads(WIRE.success(request, reply).body)
    gemini_spec.validate("GenerateContentResponse", whole)
    assert whole["candidates"][0]["content"]["parts"][0]["text"] == reply.text
    plan = WIRE.stream(request, reply)
    frames = events(plan.head + plan.pieces + plan.tail)
    for frame in frames:
        gemini_spec.validate("GenerateContentResponse", frame)
    assert "".join(f["candidates"][0]["content"]["parts"][0]["text"] for f in frames) == reply.text
    assert [f["candidates"][0].get("finishReason") for f in frames][-1] == "STOP"
    assert all("finishReason" not in f["candidates"][0] for f in frames[:-1])
    assert frames[-1]["usageMetadata"]["candidatesTokenCount"] == reply.output_tokens


def test_a_reply_cut_by_max_tokens_finishes_with_max_tokens() -> None:
    request = parse(
        "generateContent",
        {
            "contents": [{"parts": [{"text": "a long prompt " * 5}]}],
            "generationConfig": {"maxOutputTokens": 2},
        },
    )
    body = json.loads(WIRE.success(request, answer(request)).body)
    assert body["candidates"][0]["finishReason"] == "MAX_TOKENS"


def test_embedding_answers_match_the_spec(gemini_spec: Any) -> None:
    single = parse("embedContent", {"content": {"parts": [{"text": "x"}]}})
    reply = SimReply("r", 0, vectors=((0.1, 0.2),))
    gemini_spec.validate("EmbedContentResponse", json.loads(WIRE.success(single, reply).body))
    batch = parse(
        "batchEmbedContents",
        {"requests": [{"content": {"parts": [{"text": t}]}} for t in ("x", "y")]},
    )
    reply = SimReply("r", 0, vectors=((0.1,), (0.2,)))
    body = json.loads(WIRE.success(batch, reply).body)
    gemini_spec.validate("BatchEmbedContentsResponse", body)
    assert body["embeddings"] == [{"values": [0.1]}, {"values": [0.2]}]
    assert WIRE.default_dimensions("gemini-embedding-001") == 3072


def test_block_markers_answer_as_gemini_blocks(gemini_spec: Any) -> None:
    prompt = parse("generateContent", {"contents": [{"parts": [{"text": f"x {BLOCK_PROMPT}"}]}]})
    body = json.loads(WIRE.success(prompt, answer(prompt)).body)
    gemini_spec.validate("GenerateContentResponse", body)
    assert body["promptFeedback"]["blockReason"] == "SAFETY" and "candidates" not in body
    response = parse(
        "streamGenerateContent", {"contents": [{"parts": [{"text": f"x {BLOCK_RESPONSE}"}]}]}
    )
    plan = WIRE.stream(response, answer(response))
    frames = events(plan.pieces + plan.tail)
    assert frames[0]["candidates"][0]["content"]["parts"][0]["text"]
    assert frames[-1]["candidates"][0]["finishReason"] == "SAFETY"


def detail(kind: ErrorKind, **extra: Any) -> ErrorDetail:
    return ErrorDetail(kind=kind, rng=random.Random(1), request_id="r", now_wall=0.0, **extra)


BREACH = LimitBreach(LimitKind.TOKENS, 100, 90, 20, 1.5)


@pytest.mark.parametrize(
    ("error", "status", "category"),
    [
        (detail(ErrorKind.AUTH, message="unknown credential"), 400, "auth"),
        (detail(ErrorKind.AUTH, message="missing credential"), 403, "auth"),
        (
            detail(ErrorKind.INVALID_REQUEST, message="bad", param="contents"),
            400,
            "invalid_request",
        ),
        (detail(ErrorKind.NOT_FOUND, path="/v1beta/nope"), 404, "invalid_request"),
        (detail(ErrorKind.RATE_LIMITED, retry_after=0.25), 429, "rate_limited"),
        (detail(ErrorKind.RATE_LIMITED, retry_after=1.5, breach=BREACH), 429, "rate_limited"),
        (detail(ErrorKind.TOO_LARGE, breach=BREACH), 400, "invalid_request"),
        (detail(ErrorKind.QUOTA_EXHAUSTED), 429, "quota_exhausted"),
        (detail(ErrorKind.OVERLOADED, retry_after=0.2), 503, "degraded"),
        (detail(ErrorKind.SERVER_ERROR), None, None),
    ],
)
def test_every_error_is_a_status_the_classifier_reads_as_meant(
    gemini_spec: Any, error: ErrorDetail, status: int | None, category: str | None
) -> None:
    """Each simulated error is a google.rpc.Status (spec-valid) and the plugin's classifier
    reads it as the fault it stands for, with the injected hint as its retry_after."""
    from multidict import CIMultiDict, CIMultiDictProxy
    from patchwire.http import HttpResponse

    answer_ = WIRE.error(error)
    body = json.loads(answer_.body)
    # Google's HTTP error envelope (AIP-193) adds the code's name as "status" beside the
    # google.rpc.Status fields the spec describes.
    status_name = body["error"].pop("status")
    assert status_name in STATUS_CATEGORIES
    gemini_spec.validate("Status", body["error"])
    assert body["error"]["code"] == answer_.status
    if status is not None:
        assert answer_.status == status
    response = HttpResponse(answer_.status, CIMultiDictProxy(CIMultiDict()), answer_.body, "u")
    cls = classify_response(response)
    assert cls is not None
    if category is not None:
        assert cls.category.value == category
    else:
        assert cls.retryable
    if error.kind in (ErrorKind.RATE_LIMITED, ErrorKind.OVERLOADED):
        assert cls.retry_after == pytest.approx(error.retry_after)
        assert answer_.retry_after == error.retry_after


@settings(max_examples=300, deadline=None)
@given(st.floats(0, 1e6, allow_nan=False))
def test_retry_delays_survive_the_round_trip(seconds: float) -> None:
    """Invariant: the delay the simulator writes is read back within a millisecond, never shorter
    than 1 ms below what was meant."""
    parsed = parse_duration(format_duration(seconds))
    assert parsed is not None
    assert abs(parsed - seconds) <= 0.0005 + 1e-9


def test_the_wire_routes_match_gemini_paths() -> None:
    assert WIRE.prefix == "/v1beta"
    assert {r.path.rsplit(":", 1)[1]: (r.operation, r.stream) for r in WIRE.routes} == {
        "generateContent": ("chat", False),
        "streamGenerateContent": ("chat", True),
        "embedContent": ("embed", False),
        "batchEmbedContents": ("embed", False),
    }
    assert all(isinstance(r, SimRoute) for r in WIRE.routes)


def test_credentials_come_from_the_key_header_query_or_bearer() -> None:
    assert WIRE.credential({"x-goog-api-key": "a"}, {}) == "a"
    assert WIRE.credential({}, {"key": "b"}) == "b"
    assert WIRE.credential({"authorization": "Bearer c"}, {}) == "c"
    assert WIRE.credential({}, {}) is None
    assert WIRE.limit_headers(None, 0.0) == {}  # type: ignore[arg-type]
