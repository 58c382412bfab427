"""The simulator's reading of Anthropic's rich request fields, refused as the API does.

Content blocks: ``text``; ``image`` (``base64`` source with a jpeg/png/gif/webp media
type and base64 data, or an http(s) ``url`` source) and ``document`` (``base64`` PDF,
``url``, or ``text`` source) in user messages and tool results only; ``tool_use`` in
assistant messages, each answered by a ``tool_result`` with its ``tool_use_id`` in the
very next (user) message, results first; ``thinking`` blocks whose ``signature`` the
simulator issued for exactly that text (a modified or foreign block is a 400, as on the
real API) and ``redacted_thinking`` blocks whose ``data`` it issued.

Fields: ``tools`` (names ``^[a-zA-Z0-9_-]{1,128}$``, unique, ``input_schema`` an object
schema, every object closed when ``strict``); ``tool_choice`` (``auto``/``any``/``tool`` with an offered name/``none``,
``disable_parallel_tool_use``; only with tools); ``thinking`` (``enabled`` with
``budget_tokens`` >= 1024 and below ``max_tokens``, ``disabled``, ``adaptive`` with
``output_config.effort`` setting how much it thinks);
``output_config.format`` (``json_schema`` with a schema).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from patchwire.testing.sim_rich import verify
from patchwire.testing.sim_wire import RichReading, SimTool, WireRequestError

__all__ = ["REDACTED_PREFIX", "MessagesReading", "read_messages_request"]

_NAME: Final = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
_ID: Final = re.compile(r"^[a-zA-Z0-9_-]+$")
_IMAGE_TYPES: Final = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
_CHOICES: Final = {"auto": "auto", "any": "required", "none": "none"}
_EFFORTS: Final = frozenset({"low", "medium", "high", "xhigh", "max"})
#: what the simulator's redacted thinking ``data`` starts with (the rest is signed text)
REDACTED_PREFIX: Final = "simredacted:"


class MessagesReading(RichReading):
    """What one Messages request says: its (role, text) turns and the rich fields."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[tuple[str, str]] = []


def _fail(message: str, param: str | None = None) -> WireRequestError:
    return WireRequestError(message, param=param)


def _check_base64(data: Any, where: str) -> None:
    if not isinstance(data, str) or not data:
        raise _fail(f"{where}.source.data: Field required", where)
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise _fail(f"{where}.source.data: the data is not valid base64", where) from None


def _media(block: Mapping[str, Any], where: str) -> None:
    source = block.get("source")
    kind = source.get("type") if isinstance(source, Mapping) else None
    if not isinstance(source, Mapping) or not isinstance(kind, str):
        raise _fail(f"{where}.source: Field required", where)
    if kind == "url":
        url = source.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise _fail(f"{where}.source.url: an http(s) URL is required", where)
        return
    if block["type"] == "image":
        if kind != "base64":
            raise _fail(f"{where}.source.type: Input should be 'base64' or 'url'", where)
        if source.get("media_type") not in _IMAGE_TYPES:
            raise _fail(
                f"{where}.source.media_type: Input should be 'image/jpeg', 'image/png',"
                " 'image/gif' or 'image/webp'",
                where,
            )
        _check_base64(source.get("data"), where)
    elif kind == "base64":
        if source.get("media_type") != "application/pdf":
            raise _fail(f"{where}.source.media_type: Input should be 'application/pdf'", where)
        _check_base64(source.get("data"), where)
    elif kind == "text":
        if source.get("media_type") != "text/plain" or not isinstance(source.get("data"), str):
            raise _fail(
                f"{where}.source: a text source needs media_type text/plain and data", where
            )
    else:
        raise _fail(f"{where}.source.type: Input should be 'base64', 'url' or 'text'", where)


def _result_content(block: Mapping[str, Any], where: str, out: MessagesReading) -> str:
    content = block.get("content", "")
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise _fail(f"{where}.content: Input should be a valid string or list", where)
    texts = []
    for number, inner in enumerate(content):
        at = f"{where}.content.{number}"
        kind = inner.get("type") if isinstance(inner, Mapping) else None
        if kind == "text" and isinstance(inner.get("text"), str):
            texts.append(inner["text"])
        elif kind in ("image", "document"):
            _media(inner, at)
            out.media += 1
        else:
            raise _fail(f"{at}: tool results hold text, image or document blocks", at)
    return "\n".join(texts)


def _thinking(block: Mapping[str, Any], where: str) -> None:
    if block["type"] == "redacted_thinking":
        data = block.get("data")
        issued = isinstance(data, str) and data.startswith(REDACTED_PREFIX)
        text, _, signature = (data or "").removeprefix(REDACTED_PREFIX).rpartition(":")
        if not issued or not verify(text, signature):
            raise _fail(f"{where}.data: Invalid `data` in `redacted_thinking` block", where)
        return
    thinking, signature = block.get("thinking"), block.get("signature")
    if not isinstance(thinking, str) or not isinstance(signature, str):
        raise _fail(f"{where}: thinking blocks need thinking and signature", where)
    if not verify(thinking, signature):
        raise _fail(f"{where}.signature: Invalid `signature` in `thinking` block", where)


def _blocks(
    role: str, content: Any, where: str, out: MessagesReading, pending: list[str]
) -> tuple[str, list[str], list[str]]:
    """(text, tool_use ids it asks for, tool_use ids it answers) of one message's content."""
    if isinstance(content, str):
        return content, [], []
    if not isinstance(content, list):
        raise _fail(f"{where}: Input should be a valid string or list", where)
    texts: list[str] = []
    calls: list[str] = []
    answered: list[str] = []
    for number, block in enumerate(content):
        at = f"{where}.{number}"
        kind = block.get("type") if isinstance(block, Mapping) else None
        if not isinstance(kind, str):
            raise _fail(f"{at}: each content block needs a type", at)
        if kind == "text":
            if not isinstance(block.get("text"), str) or not block["text"]:
                raise _fail(f"{at}: text content blocks must be non-empty", at)
            texts.append(block["text"])
        elif kind in ("image", "document"):
            if role != "user":
                raise _fail(f"{at}: {kind} blocks are only allowed in user messages", at)
            _media(block, at)
            out.media += 1
        elif kind == "tool_use":
            if role != "assistant":
                raise _fail(f"{at}: tool_use blocks are only allowed in assistant messages", at)
            if not isinstance(block.get("id"), str) or not _ID.match(block["id"]):
                raise _fail(f"{at}.id: String should match pattern '^[a-zA-Z0-9_-]+$'", at)
            if not isinstance(block.get("name"), str) or not isinstance(block.get("input"), dict):
                raise _fail(f"{at}: tool_use blocks need a name and an input object", at)
            calls.append(block["id"])
            out.call_texts.append(f"{block['name']} {json.dumps(block['input'])}")
        elif kind == "tool_result":
            if role != "user":
                raise _fail(f"{at}: tool_result blocks are only allowed in user messages", at)
            if any(c.get("type") != "tool_result" for c in content[:number]):
                raise _fail(f"{at}: tool_result blocks must come first in the message content", at)
            call_id = block.get("tool_use_id")
            if call_id not in pending:
                raise _fail(
                    f"{at}: unexpected `tool_use_id` found in `tool_result` blocks: {call_id}."
                    " Each `tool_result` block must have a corresponding `tool_use` block in"
                    " the previous message.",
                    at,
                )
            if "is_error" in block and not isinstance(block["is_error"], bool):
                raise _fail(f"{at}.is_error: Input should be a valid boolean", at)
            answered.append(call_id)
            texts.append(_result_content(block, at, out))
        elif kind in ("thinking", "redacted_thinking"):
            if role != "assistant":
                raise _fail(f"{at}: {kind} blocks are only allowed in assistant messages", at)
            _thinking(block, at)
            out.replayed += 1
        else:
            raise _fail(f"{at}.type: the simulator does not serve {kind!r} blocks", at)
    return "\n".join(t for t in texts if t), calls, answered


def _read_messages(messages: Sequence[Any], out: MessagesReading) -> None:
    pending: list[str] = []
    for index, message in enumerate(messages):
        where = f"messages.{index}"
        if not isinstance(message, Mapping) or message.get("role") not in ("user", "assistant"):
            raise _fail(f"{where}.role: Input should be 'user' or 'assistant'", where)
        role = message["role"]
        text, calls, answered = _blocks(
            role, message.get("content"), f"{where}.content", out, pending
        )
        missing = [c for c in pending if c not in answered]
        if missing:
            raise _fail(
                f"messages.{index - 1}: `tool_use` ids were found without `tool_result` blocks"
                f" immediately after: {', '.join(missing)}. Each `tool_use` block must have a"
                " corresponding `tool_result` block in the next message.",
                "messages",
            )
        pending = calls
        out.tool_rounds += bool(calls)
        out.texts.append((role, text))
        out.after_tool_result = bool(answered)
    if pending:
        # A trailing assistant turn with calls is a prefill the model cannot continue.
        raise _fail(
            f"messages.{len(messages) - 1}: `tool_use` ids were found without `tool_result`"
            f" blocks immediately after: {', '.join(pending)}.",
            "messages",
        )


def _read_tools(data: Mapping[str, Any], out: MessagesReading) -> None:
    tools = data.get("tools")
    if tools is None:
        return
    if not isinstance(tools, list):
        raise _fail("tools: Input should be a valid list", "tools")
    read: list[SimTool] = []
    for index, tool in enumerate(tools):
        where = f"tools.{index}"
        if not isinstance(tool, Mapping):
            raise _fail(f"{where}: Input should be an object", where)
        name = tool.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise _fail(
                f"{where}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'",
                where,
            )
        if any(t.name == name for t in read):
            raise _fail(f"tools: Tool names must be unique (found {name!r} twice)", "tools")
        schema = tool.get("input_schema")
        if not isinstance(schema, Mapping) or schema.get("type") != "object":
            raise _fail(f"{where}.custom.input_schema.type: Input should be 'object'", where)
        strict = tool.get("strict", False)
        if not isinstance(strict, bool):
            raise _fail(f"{where}.custom.strict: Input should be a valid boolean", where)
        problem = _open_object(schema, "") if strict else None
        if problem is not None:
            raise _fail(
                f"{where}: For '{problem or 'root'}': 'additionalProperties' must be explicitly"
                " set to false for object types in strict tools",
                where,
            )
        read.append(SimTool(name, schema))
    out.tools = tuple(read)


def _read_choice(data: Mapping[str, Any], out: MessagesReading) -> None:
    choice = data.get("tool_choice")
    if choice is None:
        return
    kind = choice.get("type") if isinstance(choice, Mapping) else None
    if kind not in ("auto", "any", "tool", "none"):
        raise _fail(
            "tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'", "tool_choice"
        )
    if not out.tools and kind != "none":
        raise _fail("tool_choice may only be specified while providing tools.", "tool_choice")
    disable = choice.get("disable_parallel_tool_use", False)
    if not isinstance(disable, bool) or (disable and kind == "none"):
        raise _fail(
            "tool_choice.disable_parallel_tool_use: Extra inputs are not permitted", "tool_choice"
        )
    out.parallel = not disable
    if kind == "tool":
        name = choice.get("name")
        if name not in {t.name for t in out.tools}:
            raise _fail(
                f"tool_choice.name: Tool '{name}' not found in provided tools", "tool_choice"
            )
        out.tool_choice = str(name)
    else:
        out.tool_choice = _CHOICES[str(kind)]


def _read_thinking(data: Mapping[str, Any], max_tokens: int, out: MessagesReading) -> None:
    thinking = data.get("thinking")
    if thinking is None:
        return
    kind = thinking.get("type") if isinstance(thinking, Mapping) else None
    if kind == "disabled":
        return
    if kind == "adaptive":
        config = data.get("output_config")
        effort = config.get("effort", "high") if isinstance(config, Mapping) else "high"
        if effort not in _EFFORTS:
            raise _fail(
                "output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'",
                "output_config",
            )
        out.reasoning = str(effort)
        return
    if kind != "enabled":
        raise _fail(
            "thinking.type: Input should be 'enabled', 'disabled' or 'adaptive'", "thinking"
        )
    budget = thinking.get("budget_tokens")
    if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1024:
        raise _fail(
            "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024",
            "thinking",
        )
    if budget >= max_tokens:
        raise _fail(
            "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our"
            " documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking",
            "max_tokens",
        )
    out.reasoning = budget


def _read_output(data: Mapping[str, Any], out: MessagesReading) -> None:
    config = data.get("output_config")
    if config is None:
        return
    fmt = config.get("format") if isinstance(config, Mapping) else None
    if fmt is None:
        return
    if not isinstance(fmt, Mapping) or fmt.get("type") != "json_schema":
        raise _fail("output_config.format.type: Input should be 'json_schema'", "output_config")
    schema = fmt.get("schema")
    if not isinstance(schema, Mapping):
        raise _fail("output_config.format.schema: Field required", "output_config")
    problem = _open_object(schema, "")
    if problem is not None:
        raise _fail(
            f"output_config.format.schema: For '{problem or 'root'}': 'additionalProperties'"
            " must be explicitly set to false for object types",
            "output_config",
        )
    out.output_schema = schema


def _open_object(schema: Any, path: str) -> str | None:
    """The path of the first object schema not closed with additionalProperties false."""
    if isinstance(schema, list):
        for item in schema:
            found = _open_object(item, path)
            if found is not None:
                return found
        return None
    if not isinstance(schema, Mapping):
        return None
    if schema.get("type") == "object" and schema.get("additionalProperties") is not False:
        return path
    for key in ("properties", "$defs"):
        if isinstance(schema.get(key), Mapping):
            for name, sub in schema[key].items():
                found = _open_object(sub, f"{path}/{key}/{name}")
                if found is not None:
                    return found
    for key in ("items", "anyOf", "allOf", "prefixItems"):
        if key in schema:
            found = _open_object(schema[key], f"{path}/{key}")
            if found is not None:
                return found
    return None


def read_messages_request(
    data: Mapping[str, Any], messages: Sequence[Any], max_tokens: int
) -> MessagesReading:
    """Read and check the messages and the rich fields of a Messages request body."""
    out = MessagesReading()
    _read_messages(messages, out)
    _read_tools(data, out)
    _read_choice(data, out)
    _read_thinking(data, max_tokens, out)
    _read_output(data, out)
    return out
