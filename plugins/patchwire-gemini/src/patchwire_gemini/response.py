"""Gemini's answers read into patchwire's types.

A blocked prompt comes back as HTTP 200 with ``promptFeedback.blockReason`` and no
candidates, and a flagged answer as a candidate whose ``finishReason`` names the filter.
Neither is a transport failure: both become an ``InvalidRequestError`` whose code is the
reason, which the pipeline never retries (the same prompt would be blocked again).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import attrs
from patchwire.errorbody import ErrorBody, parse_error_body
from patchwire.errors import IntegrationError, InvalidRequestError, PatchwireError
from patchwire.types import Usage

from patchwire_gemini.status import classify_error_body

__all__ = [
    "BLOCKED_FINISH_REASONS",
    "Chunk",
    "parse_chunk",
    "usage_from",
    "vectors_from",
]

#: finish reasons that mean a content filter stopped the answer
BLOCKED_FINISH_REASONS: Final = frozenset(
    {
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
    }
)


@attrs.frozen(slots=True)
class Chunk:
    """What one GenerateContentResponse (a whole reply, or one SSE event) says."""

    text: str
    finish_reason: str | None
    usage: Usage | None
    response_id: str | None


def _count(meta: Mapping[str, Any], key: str) -> int:
    value = meta.get(key, 0)
    # int32 fields arrive as JSON numbers; int64 ones as strings: accept both.
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise IntegrationError(f"usageMetadata.{key} is not a count: {value!r}")
    try:
        count = int(value)
    except ValueError:
        raise IntegrationError(f"usageMetadata.{key} is not a count: {value!r}") from None
    if count < 0:
        raise IntegrationError(f"usageMetadata.{key} is negative: {count}")
    return count


def usage_from(meta: Any) -> Usage | None:
    """Usage from ``usageMetadata``.

    Thoughts are billed as output but are not part of ``candidatesTokenCount``, and the
    prompt the model saw for tool use is input beside ``promptTokenCount``; the cached
    count is a subset of the prompt count.
    """
    if meta is None:
        return None
    if not isinstance(meta, Mapping):
        raise IntegrationError(f"usageMetadata is not an object: {type(meta).__name__}")
    thoughts = _count(meta, "thoughtsTokenCount")
    return Usage(
        input_tokens=_count(meta, "promptTokenCount") + _count(meta, "toolUsePromptTokenCount"),
        output_tokens=_count(meta, "candidatesTokenCount") + thoughts,
        cached_input_tokens=_count(meta, "cachedContentTokenCount"),
        reasoning_tokens=thoughts,
    )


def _text(candidate: Mapping[str, Any]) -> str:
    content = candidate.get("content")
    if content is None:
        return ""
    parts = content.get("parts") if isinstance(content, Mapping) else None
    if parts is None:
        # A reply cut by maxOutputTokens while the model was still thinking has no parts.
        return ""
    if not isinstance(parts, Sequence) or isinstance(parts, str):
        raise IntegrationError("candidate content.parts is not a list")
    out: list[str] = []
    for part in parts:
        if not isinstance(part, Mapping):
            raise IntegrationError("a candidate part is not an object")
        text = part.get("text")
        # Thought summaries are the model's reasoning, not its answer.
        if isinstance(text, str) and not part.get("thought"):
            out.append(text)
    return "".join(out)


def _flagged(ratings: Any) -> str:
    if not isinstance(ratings, Sequence):
        return ""
    names = [
        str(r.get("category"))
        for r in ratings
        if isinstance(r, Mapping) and (r.get("blocked") or r.get("probability") == "HIGH")
    ]
    return f"; flagged: {', '.join(names)}" if names else ""


def _blocked(
    what: str, reason: str, extra: str, response_id: str | None, model: str, connector: str | None
) -> InvalidRequestError:
    return InvalidRequestError(
        f"{what} blocked by Gemini's content filter ({reason}){extra}; rephrase it,"
        " retrying the same request gets the same answer",
        connector=connector,
        model=model,
        status=200,
        code=reason,
        request_id=response_id,
    )


def _stream_error(data: Mapping[str, Any], model: str, connector: str | None) -> PatchwireError:
    body = parse_error_body(data) or ErrorBody()
    status = int(body.code) if body.code is not None and body.code.isdigit() else 200
    return classify_error_body(status, body).to_error(connector=connector, model=model, attempts=0)


def parse_chunk(data: Any, *, model: str, connector: str | None = None) -> Chunk:
    """Read one GenerateContentResponse; raise the classified error it carries, if any."""
    if not isinstance(data, Mapping):
        raise IntegrationError(
            f"expected a GenerateContentResponse object, got {type(data).__name__}",
            connector=connector,
            model=model,
        )
    if isinstance(data.get("error"), Mapping):
        # A stream that fails after HTTP 200 sends a google.rpc.Status as an event.
        raise _stream_error(data, model, connector)
    response_id = data.get("responseId")
    response_id = response_id if isinstance(response_id, str) else None
    feedback = data.get("promptFeedback")
    if isinstance(feedback, Mapping):
        reason = feedback.get("blockReason")
        if isinstance(reason, str) and reason and reason != "BLOCK_REASON_UNSPECIFIED":
            raise _blocked(
                "prompt",
                reason,
                _flagged(feedback.get("safetyRatings")),
                response_id,
                model,
                connector,
            )
    try:
        usage = usage_from(data.get("usageMetadata"))
        candidates = data.get("candidates")
        if candidates is None:
            return Chunk("", None, usage, response_id)
        if not isinstance(candidates, Sequence) or not candidates:
            raise IntegrationError("candidates is not a non-empty list")
        candidate = candidates[0]
        if not isinstance(candidate, Mapping):
            raise IntegrationError("a candidate is not an object")
        finish = candidate.get("finishReason")
        if finish is not None and not isinstance(finish, str):
            raise IntegrationError(f"finishReason is not a string: {finish!r}")
        if finish in BLOCKED_FINISH_REASONS:
            message = candidate.get("finishMessage")
            extra = _flagged(candidate.get("safetyRatings"))
            if isinstance(message, str) and message:
                extra += f": {message}"
            raise _blocked("response", str(finish), extra, response_id, model, connector)
        return Chunk(_text(candidate), finish or None, usage, response_id)
    except IntegrationError as exc:
        exc.connector = exc.connector or connector
        exc.model = exc.model or model
        exc.message = f"unexpected Gemini reply: {exc.message}"
        raise


def _values(embedding: Any) -> tuple[float, ...]:
    if not isinstance(embedding, Mapping):
        raise IntegrationError("an embedding is not an object")
    values = embedding.get("values")
    if not isinstance(values, Sequence) or isinstance(values, str):
        raise IntegrationError("an embedding has no 'values' list")
    out: list[float] = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise IntegrationError(f"an embedding value is not a number: {value!r}")
        out.append(float(value))
    return tuple(out)


def vectors_from(data: Any, expected: int, *, batch: bool) -> tuple[tuple[float, ...], ...]:
    """The vectors of an EmbedContentResponse (``batch`` False) or BatchEmbedContentsResponse."""
    if not isinstance(data, Mapping):
        raise IntegrationError(f"expected an embedding response object, got {type(data).__name__}")
    if not batch:
        return (_values(data.get("embedding")),)
    embeddings = data.get("embeddings")
    if not isinstance(embeddings, Sequence) or isinstance(embeddings, str):
        raise IntegrationError("batchEmbedContents reply has no 'embeddings' list")
    if len(embeddings) != expected:
        raise IntegrationError(
            f"batchEmbedContents returned {len(embeddings)} embeddings for {expected} inputs"
        )
    return tuple(_values(e) for e in embeddings)
