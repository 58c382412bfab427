"""patchwire's messages as Gemini ``contents``: text, media, function calls and responses,
thoughts and their signatures.

- ``system`` messages (text) become ``systemInstruction``; ``assistant`` turns role
  ``model``; ``user`` and ``tool`` turns role ``user`` (Gemini has no tool role: function
  responses go in a user Content). Consecutive turns of one role are merged.
- :class:`~patchwire.parts.Image`/:class:`~patchwire.parts.Document` bytes (and ``data:``
  URLs) go as ``inlineData`` (raw base64 plus ``mimeType``); a URL as ``fileData`` only
  when it is a Gemini Files API URI, the one kind of URL the API reads. Any other URL is
  refused before sending: upload the file first, or pass its bytes.
- :class:`~patchwire.parts.ToolCall` is a ``functionCall`` part; its ``thoughtSignature``
  goes back on the same part. Gemini issues no call ids: the connector mints them
  (``call_`` and 24 hex digits, :func:`minted`) and never sends a minted id back; a
  Gemini-issued id is returned as ``functionCall.id``/``functionResponse.id``.
- :class:`~patchwire.parts.ToolResultPart` is a ``functionResponse`` named after its call
  (the name is looked up by ``call_id`` in the history when the part has none), with
  ``response: {"output": text}`` or ``{"error": text}`` for ``is_error``, and media
  results as ``functionResponse.parts[].inlineData``.
- :class:`~patchwire.parts.Reasoning` parts from Gemini come back as they came: a thought
  summary as ``{"text", "thought": true}``, a signature that came on a text part on that
  text part again. Other providers' reasoning is dropped (only the issuer can check it).
- For models that check signatures strictly (Gemini 3), a function call of the history
  that has none (another provider's, or an older model's) carries Google's documented
  placeholder ``skip_thought_signature_validator`` on the first call of its turn, which
  is where Gemini itself puts the one signature of a parallel turn.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import Any, Final

from patchwire.errors import InvalidRequestError
from patchwire.parts import Document, Image, Media, Reasoning, Text, ToolCall, ToolResultPart
from patchwire.types import Message

from patchwire_gemini.generations import strict_signatures

__all__ = [
    "FILES_PREFIX",
    "SKIP_SIGNATURE",
    "build_contents",
    "minted",
]

#: where Gemini's Files API URIs live: the only URLs ``fileData`` reads
FILES_PREFIX: Final = "https://generativelanguage.googleapis.com/"
#: Google's documented placeholder for a function call whose signature is unknown
SKIP_SIGNATURE: Final = "skip_thought_signature_validator"
_MINTED: Final = re.compile(r"^call_[0-9a-f]{24}$")
_ROLES: Final = {"user": "user", "tool": "user", "assistant": "model"}


def minted(call_id: str) -> bool:
    """Whether ``call_id`` was minted by this connector (so Gemini never saw it)."""
    return bool(_MINTED.match(call_id))


def _invalid(message: str, model: str, connector: str | None) -> InvalidRequestError:
    return InvalidRequestError(message, model=model, connector=connector)


def _media(part: Media, where: str, model: str, connector: str | None) -> dict[str, Any]:
    if part.data is not None:
        return {"inlineData": {"mimeType": part.media_type, "data": part.base64()}}
    url = part.url or ""
    if url.startswith("data:"):
        head, _, payload = url.partition(",")
        if not head.endswith(";base64"):
            raise _invalid(f"{where}: a data: URL must be base64", model, connector)
        try:
            base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise _invalid(
                f"{where}: the data: URL is not valid base64", model, connector
            ) from None
        return {"inlineData": {"mimeType": part.media_type, "data": payload}}
    if url.startswith(FILES_PREFIX):
        return {"fileData": {"mimeType": part.media_type, "fileUri": url}}
    raise _invalid(
        f"{where}: the gemini connector cannot send a {type(part).__name__} by URL"
        f" ({part!r}): Gemini reads only Files API URIs ({FILES_PREFIX}...). Upload it"
        f" first, or pass its bytes ({type(part).__name__}.from_bytes / from_path)",
        model,
        connector,
    )


def _call_part(call: ToolCall) -> dict[str, Any]:
    body: dict[str, Any] = {"name": call.name, "args": dict(call.arguments)}
    if call.provider == "gemini" and call.id and not minted(call.id):
        body["id"] = call.id
    part: dict[str, Any] = {"functionCall": body}
    if call.signature and call.provider == "gemini":
        part["thoughtSignature"] = call.signature
    return part


class _History:
    """What earlier parts say that later ones need: each call's name and Gemini id by call id."""

    def __init__(self) -> None:
        self.calls: dict[str, ToolCall] = {}


def _result_part(
    result: ToolResultPart, history: _History, where: str, model: str, connector: str | None
) -> dict[str, Any]:
    call = history.calls.get(result.call_id)
    name = result.name or (call.name if call is not None else "")
    if not name:
        raise _invalid(
            f"{where}: Gemini matches a function response to its call by name, and no call"
            f" {result.call_id!r} precedes this ToolResultPart; build it with"
            " ToolResultPart.for_call(call, ...) or give name=",
            model,
            connector,
        )
    media: list[dict[str, Any]] = []
    if isinstance(result.content, str):
        text = result.content
    else:
        text = "".join(p.text for p in result.content if isinstance(p, Text))
        for index, item in enumerate(result.content):
            if isinstance(item, Image | Document):
                inline = _media(item, f"{where} item {index}", model, connector)
                if "inlineData" not in inline:
                    raise _invalid(
                        f"{where} item {index}: media in a function response must be bytes",
                        model,
                        connector,
                    )
                media.append(inline)
    body: dict[str, Any] = {
        "name": name,
        "response": {"error" if result.is_error else "output": text},
    }
    if call is not None and call.provider == "gemini" and not minted(call.id):
        body["id"] = call.id
    if media:
        body["parts"] = media
    return {"functionResponse": body}


def _reasoning_part(part: Reasoning) -> dict[str, Any] | None:
    if part.provider != "gemini":
        return None  # another provider's reasoning: only its issuer can verify it
    if part.summary or part.text:
        out: dict[str, Any] = {"text": part.text, "thought": True}
    elif part.signature:
        out = {"text": ""}
    else:
        return None
    if part.signature:
        out["thoughtSignature"] = part.signature
    return out


def _parts(
    message: Message, index: int, history: _History, model: str, connector: str | None
) -> list[dict[str, Any]]:
    if isinstance(message.content, str):
        return [{"text": message.content}]
    out: list[dict[str, Any]] = []
    pending: str | None = None  # a signature that came on the text part that follows
    for number, part in enumerate(message.content):
        where = f"message {index} part {number}"
        if isinstance(part, Text):
            piece: dict[str, Any] = {"text": part.text}
            if pending is not None:
                piece["thoughtSignature"], pending = pending, None
            out.append(piece)
            continue
        if pending is not None:
            out.append({"text": "", "thoughtSignature": pending})
            pending = None
        if isinstance(part, Image | Document):
            out.append(_media(part, where, model, connector))
        elif isinstance(part, ToolCall):
            if message.role != "assistant":
                raise _invalid(
                    f"{where}: a ToolCall belongs in an assistant message", model, connector
                )
            history.calls[part.id] = part
            out.append(_call_part(part))
        elif isinstance(part, ToolResultPart):
            if message.role == "assistant":
                raise _invalid(
                    f"{where}: a ToolResultPart belongs in a user or tool message", model, connector
                )
            out.append(_result_part(part, history, where, model, connector))
        elif isinstance(part, Reasoning):
            if part.provider == "gemini" and part.signature and not (part.summary or part.text):
                pending = part.signature
                continue
            thought = _reasoning_part(part)
            if thought is not None:
                out.append(thought)
    if pending is not None:
        out.append({"text": "", "thoughtSignature": pending})
    return out


def _placeholders(contents: list[dict[str, Any]]) -> None:
    """The placeholder signature on each model turn's first call that has none (strict models)."""
    for content in contents:
        if content["role"] != "model":
            continue
        calls = [p for p in content["parts"] if "functionCall" in p]
        if calls and not any("thoughtSignature" in p for p in calls):
            calls[0]["thoughtSignature"] = SKIP_SIGNATURE


def build_contents(
    messages: tuple[Message, ...], model: str, connector: str | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(contents, systemInstruction parts) for ``messages``."""
    contents: list[dict[str, Any]] = []
    system: list[dict[str, Any]] = []
    history: _History | None = None  # made for the first message with parts
    for index, message in enumerate(messages):
        role = message.role
        content = message.content
        if role == "system":
            system.append({"text": content if content.__class__ is str else message.text})
            continue
        if content.__class__ is str:
            # The text-only path: no part to look at.
            if role == "tool":
                raise _invalid(
                    f"message {index}: a 'tool' message must hold ToolResultPart parts: Gemini"
                    " matches a function response to its call by name",
                    model,
                    connector,
                )
            parts: list[dict[str, Any]] = [{"text": content}]
        else:
            history = history or _History()
            parts = _parts(message, index, history, model, connector)
            if not parts:
                continue  # a turn that held only another provider's reasoning
        wire_role = _ROLES[role]
        if contents and contents[-1]["role"] == wire_role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": wire_role, "parts": parts})
    if not contents:
        raise _invalid(
            "Gemini needs at least one user or assistant message; only system messages were given",
            model,
            connector,
        )
    if history is not None and history.calls and strict_signatures(model):
        _placeholders(contents)
    return contents, system


def arguments_text(arguments: Mapping[str, Any]) -> str:
    """A call's arguments as compact JSON (``ToolCall.raw_arguments`` for Gemini's objects)."""
    return json.dumps(arguments, separators=(",", ":"), ensure_ascii=False)
