"""Gemini's answers read into patchwire's types.

A blocked prompt comes back as HTTP 200 with ``promptFeedback.blockReason`` and no
candidates, and a flagged answer as a candidate whose ``finishReason`` names the filter.
Neither is a transport failure: both become an ``InvalidRequestError`` whose code is the
reason, which the pipeline never retries (the same prompt would be blocked again).

The candidate's parts become patchwire parts in order: ``functionCall`` a
:class:`~patchwire.parts.ToolCall` (with its ``thoughtSignature``, and a minted id when
Gemini gave none), a thought a :class:`~patchwire.parts.Reasoning` summary, a signature
on a text part an empty :class:`~patchwire.parts.Reasoning` just before that text.
``MALFORMED_FUNCTION_CALL`` is an integration error; ``MISSING_THOUGHT_SIGNATURE`` an
invalid request (the history lost a signature).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

import attrs
from patchwire.errorbody import ErrorBody, parse_error_body
from patchwire.errors import IntegrationError, InvalidRequestError, PatchwireError
from patchwire.parts import Part, Reasoning, Text, ToolCall
from patchwire.types import Usage

from patchwire_gemini.status import classify_error_body

__all__ = [
    "BLOCKED_FINISH_REASONS",
    "Chunk",
    "finish_reason",
    "mint_call_id",
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
    """What one GenerateContentResponse (a whole reply, or one SSE event) says.

    ``finish_reason`` is Gemini's own word (:func:`finish_reason` maps it); ``parts`` the
    candidate's parts as patchwire parts, in order (empty for a text-only answer whose
    parts carry nothing but text).
    """

    text: str
    finish_reason: str | None
    usage: Usage | None
    response_id: str | None
    parts: tuple[Part, ...] = ()


#: Gemini finish reasons -> patchwire's (the blocked ones are raised as errors instead)
_FINISH: Final = {"STOP": "stop", "MAX_TOKENS": "length"}


def finish_reason(raw: str | None, tool_calls: bool) -> str | None:
    """patchwire's finish reason for Gemini's. Gemini says ``STOP`` after function calls too."""
    if raw is None:
        return None
    if tool_calls and raw == "STOP":
        return "tool_calls"
    return _FINISH.get(raw, "other")


def mint_call_id(response_id: str | None, index: int, name: str, raw_arguments: str) -> str:
    """A stable id for a call Gemini gave none: the same reply gives the same ids.

    ``call_`` and 24 hex digits (``request_parts.minted`` recognises them and never sends
    them to Gemini); the characters suit every provider's id rules, so the call can be
    answered on another provider after a fallback.
    """
    material = f"{response_id or ''}\x00{index}\x00{name}\x00{raw_arguments}".encode()
    return "call_" + hashlib.sha256(material).hexdigest()[:24]


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


def _call(raw: Any, signature: str | None, index: int, response_id: str | None) -> ToolCall:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
        raise IntegrationError("a functionCall part has no name")
    args = raw.get("args", {})
    if args is None:
        args = {}
    if not isinstance(args, Mapping):
        raise IntegrationError(
            f"the arguments of the call to {raw['name']!r} are a JSON {type(args).__name__},"
            " not an object"
        )
    text = json.dumps(args, separators=(",", ":"), ensure_ascii=False)
    given = raw.get("id")
    call_id = given if isinstance(given, str) and given else None
    return ToolCall(
        call_id or mint_call_id(response_id, index, raw["name"], text),
        raw["name"],
        args,
        text,
        signature=signature,
        provider="gemini",
    )


def _parts(
    candidate: Mapping[str, Any], model: str, response_id: str | None, call_offset: int
) -> tuple[str, tuple[Part, ...]]:
    """(answer text, parts) of a candidate; thoughts are reasoning, not answer text."""
    content = candidate.get("content")
    if content is None:
        return "", ()
    parts = content.get("parts") if isinstance(content, Mapping) else None
    if parts is None:
        # A reply cut by maxOutputTokens while the model was still thinking has no parts.
        return "", ()
    if not isinstance(parts, Sequence) or isinstance(parts, str):
        raise IntegrationError("candidate content.parts is not a list")
    plain = [p.get("text") for p in parts if isinstance(p, Mapping) and len(p) == 1]
    if len(plain) == len(parts) and all(isinstance(t, str) for t in plain):
        # A text-only answer: no part to build (the common case stays cheap).
        return "".join(plain), ()  # type: ignore[arg-type]
    texts: list[str] = []
    out: list[Part] = []
    rich = False
    for part in parts:
        if not isinstance(part, Mapping):
            raise IntegrationError("a candidate part is not an object")
        signature = part.get("thoughtSignature")
        signature = signature if isinstance(signature, str) and signature else None
        text = part.get("text")
        if "functionCall" in part:
            rich = True
            index = call_offset + sum(1 for p in out if isinstance(p, ToolCall))
            out.append(_call(part["functionCall"], signature, index, response_id))
            continue
        if part.get("thought"):
            rich = True
            thought = text if isinstance(text, str) else ""
            out.append(Reasoning(thought, True, signature, provider="gemini", model=model))
            continue
        if signature is not None:
            # A signature on a text part goes back on that text part (request_parts).
            rich = True
            out.append(Reasoning("", False, signature, provider="gemini", model=model))
        if isinstance(text, str) and text:
            texts.append(text)
            out.append(Text(text))
    return "".join(texts), (tuple(out) if rich else ())


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


def parse_chunk(
    data: Any, *, model: str, connector: str | None = None, call_offset: int = 0
) -> Chunk:
    """Read one GenerateContentResponse; raise the classified error it carries, if any.

    ``call_offset`` is how many calls earlier events of the same stream brought, so a
    minted call id counts the call's place in the whole turn.
    """
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
        if finish == "MALFORMED_FUNCTION_CALL":
            message = candidate.get("finishMessage")
            raise IntegrationError(
                "Gemini generated a function call that is not valid (MALFORMED_FUNCTION_CALL)"
                + (f": {message}" if isinstance(message, str) and message else "")
            )
        if finish == "MISSING_THOUGHT_SIGNATURE":
            raise InvalidRequestError(
                "Gemini refused the history: a function call in it lacks its thought signature"
                " (MISSING_THOUGHT_SIGNATURE); keep Completion.message unchanged in the history",
                connector=connector,
                model=model,
                status=200,
                code="MISSING_THOUGHT_SIGNATURE",
                request_id=response_id,
            )
        text, parts = _parts(candidate, model, response_id, call_offset)
        return Chunk(text, finish or None, usage, response_id, parts)
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
