"""Patchwire's portable request, spelled as an Anthropic Messages API body.

What maps to what (also in the README):

- ``Text`` parts: ``{"type": "text", "text"}``; a message that is all text goes as a string.
- ``Image``: ``{"type": "image", "source": {"type": "base64", "media_type", "data"}}``
  for bytes (and ``data:`` URLs), ``{"type": "url", "url"}`` for an http(s) URL.
  ``Document``: ``{"type": "document", "source": ...}`` with a ``base64`` PDF source, a
  ``url`` source, or a ``text`` source for plain text. Media go in user messages (and
  tool results) only.
- ``ToolCall`` parts in an assistant message: ``tool_use`` blocks with ``input`` the
  arguments object. ``ToolResultPart`` (in a ``user`` or ``tool`` message): a
  ``tool_result`` block with ``tool_use_id``, the content (text, or text/image/document
  blocks) and ``is_error``. All results go first in one user message: consecutive user
  and tool messages are merged, since every ``tool_use`` needs its ``tool_result`` in the
  very next message.
- ``Reasoning`` parts that Anthropic issued: ``thinking`` blocks (text and signature)
  or ``redacted_thinking`` blocks (``data``), unchanged and in order; reasoning from
  other providers is dropped (only the issuer can verify it).
- ``tools``: ``{name, description, input_schema}``; under 2026-10-21 a ``ToolSpec`` with
  ``strict=True`` whose schema fits Anthropic's strict subset adds ``strict: true`` (its
  objects closed). ``tool_choice``: auto ``{"type":
  "auto"}``, none ``{"type": "none"}``, required ``{"type": "any"}``, a name ``{"type":
  "tool", "name"}``; ``parallel_tool_calls=False`` adds ``disable_parallel_tool_use``.
- ``output``: under 2026-10-21 ``output_config: {"format": {"type": "json_schema",
  "schema"}}``; under 2023-06-01 one extra tool named for the output whose input schema
  is the output schema, forced with ``tool_choice`` (the reply's call to it is the answer).
- ``reasoning``: ``thinking: {"type": "enabled", "budget_tokens"}`` with ``low`` 1024,
  ``medium`` 4096, ``high`` 16384 or the given budget, kept within [1024, max_tokens);
  ``0`` sends ``{"type": "disabled"}``. Models that refuse ``budget_tokens`` (the
  ``adaptive_thinking`` setting: Fable 5, Opus 4.7 and 4.8, Sonnet 5 families) get
  ``thinking: {"type": "adaptive"}`` and ``output_config.effort`` (the word, or the
  nearest effort for a budget: up to 1024 ``low``, up to 8192 ``medium``, else ``high``);
  ``0`` sends no ``thinking`` there (an explicit ``disabled`` is refused by Fable 5).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any, Final

from patchwire.errors import InvalidRequestError
from patchwire.output import OutputSpec
from patchwire.parts import Document, Image, Part, Reasoning, Text, ToolCall, ToolResultPart
from patchwire.tools import ToolSpec
from patchwire.types import CompletionRequest

__all__ = [
    "MIN_THINKING_BUDGET",
    "THINKING_BUDGETS",
    "ADAPTIVE_FAMILIES",
    "check_output_tool",
    "closed_schema",
    "effort_for",
    "feature_fields",
    "fits_strict",
    "forced_output_tool",
    "is_adaptive",
    "messages_of",
    "output_tool_name",
    "system_of",
    "thinking_budget",
]

THINKING_BUDGETS: Final = {"low": 1024, "medium": 4096, "high": 16384}
#: the API refuses a smaller ``budget_tokens``
MIN_THINKING_BUDGET: Final = 1024
PROVIDER: Final = "anthropic"


def _refuse(connector: str, message: str) -> InvalidRequestError:
    return InvalidRequestError(message, connector=connector)


def _base64_of(media: Image | Document, connector: str, where: str) -> str:
    if media.data is not None:
        return media.base64()
    assert media.url is not None
    # A data: URL carries the bytes already; Anthropic wants them apart from the type.
    header, _, data = media.url.partition(",")
    if not header.endswith(";base64"):
        raise _refuse(
            connector,
            f"{where}: a data: URL {media.noun} must be base64 (data:<type>;base64,...);"
            f" or give the bytes ({type(media).__name__}.from_bytes)",
        )
    return data


def _media_block(part: Image | Document, connector: str, where: str) -> dict[str, Any]:
    remote = part.url is not None and not part.url.startswith("data:")
    if isinstance(part, Image):
        source: dict[str, Any] = (
            {"type": "url", "url": part.url}
            if remote
            else {
                "type": "base64",
                "media_type": part.media_type,
                "data": _base64_of(part, connector, where),
            }
        )
        return {"type": "image", "source": source}
    if part.media_type == "text/plain":
        if remote:
            raise _refuse(
                connector,
                f"{where}: Anthropic reads plain-text documents as text, not from a URL;"
                " use Document.from_bytes(data, 'text/plain')",
            )
        raw = (
            part.data
            if part.data is not None
            else _decoded(_base64_of(part, connector, where), where, connector)
        )
        source = {
            "type": "text",
            "media_type": "text/plain",
            "data": raw.decode("utf-8", "replace"),
        }
    elif remote:
        source = {"type": "url", "url": part.url}
    else:
        source = {
            "type": "base64",
            "media_type": "application/pdf",
            "data": _base64_of(part, connector, where),
        }
    return {"type": "document", "source": source}


def _decoded(text: str, where: str, connector: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _refuse(connector, f"{where}: the data: URL does not hold base64") from None


def _result_block(part: ToolResultPart, connector: str, where: str) -> dict[str, Any]:
    content: str | list[dict[str, Any]]
    if isinstance(part.content, str):
        content = part.content
    else:
        content = [
            {"type": "text", "text": p.text}
            if isinstance(p, Text)
            else _media_block(p, connector, where)
            for p in part.content
            if not isinstance(p, Text) or p.text  # the API refuses empty text blocks
        ]
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": part.call_id, "content": content}
    if part.is_error:
        block["is_error"] = True
    return block


def _reasoning_block(part: Reasoning) -> dict[str, Any] | None:
    if part.provider != PROVIDER:
        return None  # another provider's reasoning: only its issuer can check it
    if part.encrypted is not None:
        return {"type": "redacted_thinking", "data": part.encrypted}
    if part.signature is None:
        return None  # unsigned thinking is refused on replay; dropping it is what the API allows
    return {"type": "thinking", "thinking": part.text, "signature": part.signature}


def _blocks(role: str, parts: tuple[Part, ...], connector: str, where: str) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, Text):
            if part.text:  # the API refuses empty text blocks
                blocks.append({"type": "text", "text": part.text})
        elif isinstance(part, Image | Document):
            if role != "user":
                raise _refuse(
                    connector,
                    f"{where}: Anthropic takes images and documents in user messages and tool"
                    f" results only, not in an {role} message",
                )
            blocks.append(_media_block(part, connector, where))
        elif isinstance(part, ToolCall):
            if role != "assistant":
                raise _refuse(connector, f"{where}: tool calls belong in an assistant message")
            blocks.append(
                {
                    "type": "tool_use",
                    "id": part.id,
                    "name": part.name,
                    "input": dict(part.arguments),
                }
            )
        elif isinstance(part, ToolResultPart):
            if role != "user":
                raise _refuse(connector, f"{where}: tool results belong in a user or tool message")
            blocks.append(_result_block(part, connector, where))
        elif isinstance(part, Reasoning) and role == "assistant":
            block = _reasoning_block(part)
            if block is not None:
                blocks.append(block)
    return blocks


def system_of(request: CompletionRequest, connector: str) -> str:
    """The ``system`` text: every system message's text, in order."""
    texts = []
    for index, message in enumerate(request.messages):
        if message.role != "system":
            continue
        if not isinstance(message.content, str) and any(
            not isinstance(p, Text) for p in message.content
        ):
            raise _refuse(connector, f"message {index}: Anthropic's system prompt is text only")
        texts.append(message.text)
    return "\n\n".join(texts)


def messages_of(request: CompletionRequest, connector: str) -> list[dict[str, Any]]:
    """The ``messages`` array; refuses what the Messages API cannot carry, naming the message.

    ``tool`` messages become user messages, and consecutive messages of one role merge
    into one (a user message with its tool results first), as the API requires.
    """
    out: list[dict[str, Any]] = []
    for index, message in enumerate(request.messages):
        if message.role == "system":
            continue
        role = "user" if message.role == "tool" else message.role
        where = f"message {index}"
        if isinstance(message.content, str):
            if message.role == "tool":
                raise _refuse(
                    connector,
                    f"{where}: a 'tool' message needs ToolResultPart content (Anthropic needs"
                    " the tool_use_id of the call it answers)",
                )
            content: str | list[dict[str, Any]] = message.content
        else:
            content = _blocks(role, message.content, connector, where)
            if not content:
                # All of it was dropped (another provider's reasoning): the API refuses
                # an empty message, and the turn said nothing this provider can read.
                continue
        if out and out[-1]["role"] == role:
            out[-1]["content"] = _merged(out[-1]["content"], content)
        else:
            out.append({"role": role, "content": content})
    return out


def _as_blocks(content: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return content


def _merged(
    first: str | list[dict[str, Any]], second: str | list[dict[str, Any]]
) -> list[dict[str, Any]]:
    blocks = _as_blocks(first) + _as_blocks(second)
    results = [b for b in blocks if b.get("type") == "tool_result"]
    return results + [b for b in blocks if b.get("type") != "tool_result"]


#: keywords Anthropic's strict mode (and structured output) does not support
_NOT_STRICT: Final = frozenset(
    {
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "minLength",
        "maxLength",
        "not",
        "if",
        "then",
        "else",
    }
)


def fits_strict(schema: Any) -> bool:
    """Whether Anthropic's strict mode takes ``schema`` (once closed): no numeric or length
    bounds, ``minItems`` 0 or 1, primitive enums, no recursion through ``#``."""
    if isinstance(schema, list):
        return all(fits_strict(s) for s in schema)
    if not isinstance(schema, Mapping):
        return True
    if _NOT_STRICT.intersection(schema) or schema.get("minItems", 0) not in (0, 1):
        return False
    if schema.get("$ref") == "#":
        return False
    enum = schema.get("enum")
    if isinstance(enum, list) and any(isinstance(v, dict | list) for v in enum):
        return False
    return all(
        fits_strict(list(v.values()) if isinstance(v, Mapping) else v)
        for key, v in schema.items()
        if key in ("properties", "$defs", "items", "anyOf", "allOf", "prefixItems")
    )


def _tool(spec: ToolSpec, strict_ok: bool) -> dict[str, Any]:
    tool: dict[str, Any] = {"name": spec.name, "input_schema": dict(spec.parameters)}
    if spec.description:
        tool["description"] = spec.description
    if spec.strict and strict_ok and fits_strict(spec.parameters):
        # Strict needs every object closed; the SDK closes them the same way.
        tool["input_schema"] = closed_schema(spec.parameters)
        tool["strict"] = True
    return tool


def forced_output_tool(output: OutputSpec) -> dict[str, Any]:
    """The tool whose input is the answer (``output=`` under 2023-06-01)."""
    return {
        "name": output.name,
        "description": "Answer with this tool: its input is the whole answer.",
        "input_schema": dict(output.schema),
    }


def closed_schema(schema: Any) -> Any:
    """``schema`` with ``additionalProperties: false`` on every object that does not say,
    as Anthropic's structured output requires (and its SDK does); an explicit value stays."""
    if isinstance(schema, list):
        return [closed_schema(s) for s in schema]
    if not isinstance(schema, Mapping):
        return schema
    out = {k: closed_schema(v) if k != "properties" else v for k, v in schema.items()}
    if isinstance(schema.get("properties"), Mapping):
        out["properties"] = {k: closed_schema(v) for k, v in schema["properties"].items()}
    if isinstance(schema.get("$defs"), Mapping):
        out["$defs"] = {k: closed_schema(v) for k, v in schema["$defs"].items()}
    if (out.get("type") == "object" or "properties" in out) and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


def _choice(choice: str | None, parallel: bool | None) -> dict[str, Any] | None:
    if choice == "none":
        return {"type": "none"}
    if choice is None and parallel is not False:
        return None
    if choice in (None, "auto"):
        spelled: dict[str, Any] = {"type": "auto"}
    elif choice == "required":
        spelled = {"type": "any"}
    else:
        spelled = {"type": "tool", "name": choice}
    if parallel is False:
        spelled["disable_parallel_tool_use"] = True
    return spelled


#: model families whose API refuses ``budget_tokens`` (adaptive thinking only) [WIRE-RICH §4]
ADAPTIVE_FAMILIES: Final = (
    "claude-fable-5",
    "claude-opus-4-7",
    "claude-opus-4-8",
    "claude-sonnet-5",
)


def is_adaptive(model: str, families: Sequence[str]) -> bool:
    """Whether ``model`` is one of ``families`` (a family's point releases and dated
    snapshots included: ``claude-sonnet-5`` covers ``claude-sonnet-5-5-20261001``)."""
    return any(model == f or model.startswith(f + "-") for f in families)


def effort_for(reasoning: str | int) -> str:
    """``output_config.effort`` for patchwire's ``reasoning`` setting."""
    if isinstance(reasoning, str):
        return reasoning
    if reasoning <= 1024:
        return "low"
    return "medium" if reasoning <= 8192 else "high"


def thinking_budget(reasoning: str | int, max_tokens: int) -> int:
    """``budget_tokens`` for a reasoning setting, within [1024, max_tokens) (0: thinking off)."""
    if reasoning == 0:
        return 0
    wanted = THINKING_BUDGETS[reasoning] if isinstance(reasoning, str) else int(reasoning)
    return max(MIN_THINKING_BUDGET, min(wanted, max_tokens - 1))


def feature_fields(
    request: CompletionRequest, max_tokens: int, *, native_output: bool, adaptive: bool = False
) -> dict[str, Any]:
    """The body fields for tools, tool choice, output and reasoning."""
    fields: dict[str, Any] = {}
    tools = [_tool(t, native_output) for t in request.tools]
    choice = _choice(request.tool_choice, request.parallel_tool_calls) if tools else None
    output = request.output
    if output is not None and native_output:
        fields["output_config"] = {
            "format": {"type": "json_schema", "schema": closed_schema(output.schema)}
        }
    elif output is not None:
        tools.append(forced_output_tool(output))
        if not request.tools or (choice is not None and choice["type"] == "none"):
            # Alone (or with the caller's tools barred), the answer tool is forced.
            choice = {"type": "tool", "name": output.name, "disable_parallel_tool_use": True}
        elif choice is None or choice["type"] == "auto":
            # Beside the caller's tools some tool must be called; a call to the answer
            # tool is the answer.
            choice = {"type": "any", **{k: v for k, v in (choice or {}).items() if k != "type"}}
    if tools:
        fields["tools"] = tools
    if choice is not None:
        fields["tool_choice"] = choice
    if request.reasoning is not None and adaptive:
        if request.reasoning != 0:
            fields["thinking"] = {"type": "adaptive"}
            config = fields.setdefault("output_config", {})
            config["effort"] = effort_for(request.reasoning)
    elif request.reasoning is not None:
        budget = thinking_budget(request.reasoning, max_tokens)
        fields["thinking"] = (
            {"type": "enabled", "budget_tokens": budget} if budget else {"type": "disabled"}
        )
    return fields


def output_tool_name(request: CompletionRequest, native_output: bool) -> str | None:
    """The name of the forced answer tool, when ``output=`` is sent as one."""
    if request.output is None or native_output:
        return None
    return request.output.name


def check_output_tool(request: CompletionRequest, connector: str) -> None:
    """A caller's tool may not share the answer tool's name (its calls would be read as the answer)."""
    output = request.output
    if output is not None and any(t.name == output.name for t in request.tools):
        raise _refuse(
            connector,
            f"output {output.name!r} is sent as a tool of that name under anthropic-version"
            " 2023-06-01, and a tool offered has the same name; rename the tool or the output",
        )
