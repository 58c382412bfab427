"""Patchwire's portable request, spelled as an OpenAI Chat Completions body.

What maps to what (also in the README):

- ``Text`` parts: ``{"type": "text", "text"}``; a message that is all text is sent as a
  string. ``Image``: ``{"type": "image_url", "image_url": {"url", "detail"?}}`` with the
  URL or a ``data:`` URL, in user messages only. ``Document`` (PDF bytes):
  ``{"type": "file", "file": {"file_data": "data:application/pdf;base64,...",
  "filename"}}``; Chat Completions has no URL form for files, so a document URL is refused.
- ``ToolCall`` parts in an assistant message: ``tool_calls[]`` with the arguments as JSON
  text; ``ToolResultPart``: one ``{"role": "tool", "tool_call_id", "content"}`` message
  per result, text only (``is_error`` becomes an ``Error: `` prefix: the API has no flag).
- ``Reasoning`` parts are dropped: Chat Completions returns no replayable reasoning.
- ``tools``: ``{"type": "function", "function": {name, description, parameters,
  strict}}``, ``strict`` only when the schema fits OpenAI's strict subset.
  ``tool_choice``: the word, or ``{"type": "function", "function": {"name"}}``.
  ``parallel_tool_calls``: as is, only when tools are offered.
- ``output``: ``response_format: {"type": "json_schema", "json_schema": {name, schema,
  strict}}``, strict when the schema fits the strict subset.
- ``reasoning``: ``reasoning_effort`` — the word as is; a budget becomes the nearest
  effort (0: ``"none"``, up to 1024: ``"low"``, up to 8192: ``"medium"``, else ``"high"``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from patchwire.errors import InvalidRequestError
from patchwire.output import OutputSpec
from patchwire.parts import Document, Image, Reasoning, Text, ToolCall, ToolResultPart
from patchwire.tools import ToolSpec
from patchwire.types import CompletionRequest, Message

__all__ = [
    "chat_messages",
    "effort_for",
    "feature_fields",
    "fits_strict",
    "plain_messages",
    "plain_text",
]

_UNSUPPORTED_IN_STRICT: Final = frozenset(
    {"allOf", "not", "if", "then", "else", "dependentRequired", "dependentSchemas", "oneOf"}
)


def _refuse(connector: str, message: str) -> InvalidRequestError:
    return InvalidRequestError(message, connector=connector)


def effort_for(reasoning: str | int) -> str:
    """``reasoning_effort`` for patchwire's ``reasoning`` setting."""
    if isinstance(reasoning, str):
        return reasoning
    if reasoning == 0:
        return "none"
    if reasoning <= 1024:
        return "low"
    return "medium" if reasoning <= 8192 else "high"


def fits_strict(schema: Any) -> bool:
    """Whether OpenAI's strict mode accepts ``schema`` as it is: every object closed with
    ``additionalProperties: false`` and every property required, no unsupported keyword."""
    if isinstance(schema, list):
        return all(fits_strict(s) for s in schema)
    if not isinstance(schema, Mapping):
        return True
    if _UNSUPPORTED_IN_STRICT.intersection(schema):
        return False
    if schema.get("type") == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        if schema.get("additionalProperties") is not False:
            return False
        if set(schema.get("required", ())) != set(properties):
            return False
    return all(
        fits_strict(value)
        for key, value in schema.items()
        if key in ("properties", "$defs", "definitions")
        for value in (value.values() if isinstance(value, Mapping) else [value])
    ) and all(
        fits_strict(schema[key]) for key in ("items", "anyOf", "prefixItems") if key in schema
    )


def _media_part(part: Image | Document, connector: str, index: int) -> dict[str, Any]:
    if isinstance(part, Image):
        image: dict[str, Any] = {"url": part.data_url()}
        if part.detail is not None:
            image["detail"] = part.detail
        return {"type": "image_url", "image_url": image}
    if part.url is not None:
        raise _refuse(
            connector,
            f"message {index}: OpenAI Chat Completions takes documents as bytes, not URLs;"
            " use Document.from_bytes or Document.from_path",
        )
    if part.media_type != "application/pdf":
        raise _refuse(
            connector, f"message {index}: OpenAI reads PDF documents, not {part.media_type}"
        )
    return {
        "type": "file",
        "file": {"file_data": part.data_url(), "filename": part.filename or "document.pdf"},
    }


def _result_text(part: ToolResultPart, connector: str, index: int) -> str:
    if not isinstance(part.content, str) and any(not isinstance(c, Text) for c in part.content):
        raise _refuse(
            connector,
            f"message {index}: OpenAI Chat Completions takes only text in tool results;"
            " send the image or document in a user message instead",
        )
    return f"Error: {part.text}" if part.is_error else part.text


def _message(message: Message, connector: str, index: int) -> list[dict[str, Any]]:
    """One patchwire message as one or more OpenAI messages (tool results are one each)."""
    if isinstance(message.content, str):
        if message.role == "tool":
            raise _refuse(
                connector,
                f"message {index}: a 'tool' message needs ToolResultPart content (OpenAI"
                " requires the tool_call_id of the call it answers)",
            )
        return [{"role": message.role, "content": message.content}]
    results = [p for p in message.content if isinstance(p, ToolResultPart)]
    calls = [p for p in message.content if isinstance(p, ToolCall)]
    rest = [
        p
        for p in message.content
        if not isinstance(p, ToolResultPart | ToolCall | Reasoning)  # Chat has no replay
    ]
    out: list[dict[str, Any]] = [
        {"role": "tool", "tool_call_id": r.call_id, "content": _result_text(r, connector, index)}
        for r in results
    ]
    if calls and message.role != "assistant":
        raise _refuse(connector, f"message {index}: tool calls belong in an assistant message")
    if message.role == "tool":
        if rest:
            raise _refuse(connector, f"message {index}: a 'tool' message holds only tool results")
        return out
    media = [p for p in rest if isinstance(p, Image | Document)]
    if media and message.role != "user":
        raise _refuse(
            connector,
            f"message {index}: OpenAI takes images and documents in user messages only,"
            f" not in a {message.role!r} message",
        )
    if rest or calls or not results:
        body: dict[str, Any] = {"role": message.role}
        if media:
            body["content"] = [
                {"type": "text", "text": p.text}
                if isinstance(p, Text)
                else _media_part(p, connector, index)
                for p in rest
            ]
        else:
            text = "".join(p.text for p in rest if isinstance(p, Text))
            body["content"] = text if (text or not calls) else None
        if calls:
            body["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.raw_arguments or _json(c)},
                }
                for c in calls
            ]
        out.append(body)
    return out


def _json(call: ToolCall) -> str:
    import json

    return json.dumps(dict(call.arguments), separators=(",", ":"), ensure_ascii=False)


def plain_text(request: CompletionRequest) -> bool:
    """Whether every message is a string from a role other than ``tool``: each is then sent
    as ``{"role", "content"}`` as it is, and none can be refused."""
    # A loop rather than all() over a generator: no generator made and resumed per message.
    for m in request.messages:  # noqa: SIM110
        if m.content.__class__ is not str or m.role == "tool":
            return False
    return True


def plain_messages(request: CompletionRequest) -> list[dict[str, Any]] | None:
    """The ``messages`` array when every message is plain text (see ``plain_text``), built
    in the same pass that checks it; None otherwise."""
    out: list[dict[str, Any]] = []
    for m in request.messages:
        content = m.content
        if content.__class__ is not str or m.role == "tool":
            return None
        out.append({"role": m.role, "content": content})
    return out


def chat_messages(request: CompletionRequest, connector: str) -> list[dict[str, Any]]:
    """The ``messages`` array; refuses what OpenAI Chat cannot carry, naming the message."""
    out: list[dict[str, Any]] = []
    for index, message in enumerate(request.messages):
        out.extend(_message(message, connector, index))
    return out


def _tool(spec: ToolSpec) -> dict[str, Any]:
    function: dict[str, Any] = {"name": spec.name, "parameters": dict(spec.parameters)}
    if spec.description:
        function["description"] = spec.description
    if fits_strict(spec.parameters):
        function["strict"] = True
    return {"type": "function", "function": function}


def _response_format(output: OutputSpec) -> dict[str, Any]:
    schema = dict(output.schema)
    return {
        "type": "json_schema",
        "json_schema": {"name": output.name, "schema": schema, "strict": fits_strict(schema)},
    }


def feature_fields(request: CompletionRequest) -> dict[str, Any]:
    """The body fields for tools, tool choice, parallel calls, output and reasoning."""
    fields: dict[str, Any] = {}
    if request.tools:
        fields["tools"] = [_tool(t) for t in request.tools]
        if request.parallel_tool_calls is not None:
            fields["parallel_tool_calls"] = request.parallel_tool_calls
    choice = request.tool_choice
    if choice is not None and request.tools:  # the API refuses tool_choice without tools
        fields["tool_choice"] = (
            choice
            if choice in ("auto", "none", "required")
            else {"type": "function", "function": {"name": choice}}
        )
    if request.output is not None:
        fields["response_format"] = _response_format(request.output)
    if request.reasoning is not None:
        fields["reasoning_effort"] = effort_for(request.reasoning)
    return fields
