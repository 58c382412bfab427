"""The simulator's reading and spelling of OpenAI's rich chat fields.

Reads, and refuses as api.openai.com does: content parts (``text``, ``image_url`` with an
http(s) or ``data:`` URL, ``file`` with ``file_data``/``file_id``) in user messages only;
assistant ``tool_calls`` that must each be answered by a ``tool`` message with its
``tool_call_id`` before the next non-tool message; ``tools`` (function tools, names of
``[a-zA-Z0-9_-]{1,64}``, ``strict`` schemas closed and fully required); ``tool_choice``
(a word or a named function that is offered); ``parallel_tool_calls``;
``response_format`` (``text``, ``json_object``, ``json_schema`` with a name and a schema,
strict rules as for tools); ``reasoning_effort``.

Spells: ``message.tool_calls`` with ``call_`` ids and JSON-text arguments, and in streams
one fragment carrying ``id``/``type``/``name`` then the arguments in pieces, keyed by
``index``, as the SDK's accumulator expects.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from patchwire.testing.sim_wire import RichReading, SimReply, SimTool, WireRequestError

__all__ = [
    "ChatReading",
    "read_chat",
    "tool_call_fragments",
    "tool_calls_json",
]

_NAME: Final = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_EFFORTS: Final = frozenset({"none", "minimal", "low", "medium", "high", "xhigh", "max"})
_STRICT_REJECTS: Final = ("allOf", "not", "if", "then", "else", "dependentRequired")
_IMAGE_PREFIXES: Final = ("http://", "https://", "data:image/")
_ARGUMENT_PIECE: Final = 16


class ChatReading(RichReading):
    """What one chat request says: its (role, text) turns and the rich fields."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[tuple[str, str]] = []


def _fail(message: str, param: str | None = None) -> WireRequestError:
    return WireRequestError(message, param=param)


def _part_text(part: Any, where: str, role: str) -> tuple[str, int]:
    if not isinstance(part, Mapping) or not isinstance(part.get("type"), str):
        raise _fail(f"Invalid content part in '{where}'.", where)
    kind = part["type"]
    if kind == "text":
        if not isinstance(part.get("text"), str):
            raise _fail(f"Missing 'text' in a text part of '{where}'.", where)
        return part["text"], 0
    if kind in ("image_url", "file", "input_audio") and role != "user":
        raise _fail(f"Invalid '{where}': {kind} parts are only allowed in user messages.", where)
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, Mapping) else None
        if not isinstance(url, str) or not url.startswith(_IMAGE_PREFIXES):
            raise _fail(
                f"Invalid 'image_url' in '{where}': expected a URL or a base64 data URL.", where
            )
        detail = image.get("detail") if isinstance(image, Mapping) else None
        if detail is not None and detail not in ("auto", "low", "high"):
            raise _fail(f"Invalid 'detail' in '{where}'.", where)
        return "", 1
    if kind == "file":
        file = part.get("file")
        if not isinstance(file, Mapping) or not (
            isinstance(file.get("file_data"), str) or isinstance(file.get("file_id"), str)
        ):
            raise _fail(f"Invalid 'file' in '{where}': give file_data or file_id.", where)
        return "", 1
    raise _fail(f"Invalid content part type {kind!r} in '{where}'.", where)


def _content(message: Mapping[str, Any], where: str) -> tuple[str, int]:
    content = message.get("content")
    if content is None or isinstance(content, str):
        return content or "", 0
    if not isinstance(content, list):
        raise _fail(
            f"Invalid type for '{where}': expected one of a string or array of objects,"
            f" but got {type(content).__name__} instead.",
            where,
        )
    texts, media = [], 0
    for part in content:
        text, count = _part_text(part, where, str(message.get("role")))
        texts.append(text)
        media += count
    return "\n".join(t for t in texts if t), media


def _read_messages(messages: Sequence[Any], roles: frozenset[str], out: ChatReading) -> None:
    pending: list[str] = []  # tool_call ids an assistant message asked for, not yet answered
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, Mapping) or message.get("role") not in roles:
            raise _fail(
                f"Invalid value for '{where}.role': expected one of {', '.join(sorted(roles))}.",
                f"{where}.role",
            )
        role = message["role"]
        if role == "tool":
            call_id = message.get("tool_call_id")
            if call_id not in pending:
                raise _fail(
                    f"Invalid parameter: messages with role 'tool' must be a response to a"
                    f" preceeding message with 'tool_calls'. ('{where}.tool_call_id')",
                    f"{where}.tool_call_id",
                )
            pending.remove(call_id)
        elif pending:
            raise _fail(
                "An assistant message with 'tool_calls' must be followed by tool messages"
                " responding to each 'tool_call_id'. The following tool_call_ids did not have"
                f" response messages: {', '.join(pending)}",
                "messages",
            )
        text, media = _content(message, f"{where}.content")
        out.media += media
        if role == "assistant" and message.get("tool_calls") is not None:
            calls = message["tool_calls"]
            if not isinstance(calls, list) or not calls:
                raise _fail(f"Invalid '{where}.tool_calls': expected a non-empty array.")
            for call in calls:
                function = call.get("function") if isinstance(call, Mapping) else None
                if not isinstance(function, Mapping) or not isinstance(
                    function.get("arguments"), str
                ):
                    raise _fail(f"Invalid '{where}.tool_calls': arguments must be a string.")
                pending.append(str(call.get("id")))
                out.call_texts.append(f"{function.get('name')} {function['arguments']}")
            out.tool_rounds += 1
        out.texts.append((role, text))
    out.after_tool_result = bool(messages) and messages[-1].get("role") == "tool"


def _strict_problem(schema: Any, path: str) -> str | None:
    if isinstance(schema, list):
        for item in schema:
            problem = _strict_problem(item, path)
            if problem:
                return problem
        return None
    if not isinstance(schema, Mapping):
        return None
    for key in _STRICT_REJECTS:
        if key in schema:
            return f"In context={path}, '{key}' is not permitted."
    if schema.get("type") == "object" or "properties" in schema:
        if schema.get("additionalProperties") is not False:
            return (
                f"In context={path}, 'additionalProperties' is required to be supplied and"
                " to be false."
            )
        props = schema.get("properties", {})
        missing = [name for name in props if name not in schema.get("required", ())]
        if missing:
            return (
                f"In context={path}, 'required' is required to be supplied and to be an array"
                f" including every key in properties. Missing '{missing[0]}'."
            )
        for name, sub in props.items():
            problem = _strict_problem(sub, f"{path[:-1]}, 'properties', '{name}')")
            if problem:
                return problem
    for key in ("items", "anyOf", "prefixItems", "$defs"):
        if key in schema:
            value = schema[key]
            problem = _strict_problem(
                list(value.values()) if isinstance(value, Mapping) else value, path
            )
            if problem:
                return problem
    return None


def _read_tools(data: Mapping[str, Any], out: ChatReading) -> None:
    tools = data.get("tools")
    if tools is None:
        return
    if not isinstance(tools, list):
        raise _fail("Invalid type for 'tools': expected an array.", "tools")
    read: list[SimTool] = []
    for index, tool in enumerate(tools):
        where = f"tools[{index}]"
        function = tool.get("function") if isinstance(tool, Mapping) else None
        if not isinstance(tool, Mapping) or tool.get("type") != "function":
            raise _fail(f"Invalid '{where}.type': the simulator serves function tools.", where)
        if not isinstance(function, Mapping):
            raise _fail(f"Missing required parameter: '{where}.function'.", where)
        name = function.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise _fail(
                f"Invalid '{where}.function.name': string does not match pattern."
                " Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.",
                f"{where}.function.name",
            )
        schema = function.get("parameters", {"type": "object", "properties": {}})
        if not isinstance(schema, Mapping):
            raise _fail(f"Invalid '{where}.function.parameters'.", where)
        if function.get("strict") is True:
            problem = _strict_problem(schema, "()")
            if problem:
                raise _fail(f"Invalid schema for function '{name}': {problem}", f"{where}.function")
        read.append(SimTool(name, schema))
    out.tools = tuple(read)


def _read_choice(data: Mapping[str, Any], out: ChatReading) -> None:
    choice = data.get("tool_choice")
    parallel = data.get("parallel_tool_calls")
    if parallel is not None:
        if not isinstance(parallel, bool):
            raise _fail("Invalid type for 'parallel_tool_calls'.", "parallel_tool_calls")
        if not out.tools:
            raise _fail(
                "Invalid value for 'parallel_tool_calls': 'parallel_tool_calls' is only"
                " allowed when 'tools' are specified.",
                "parallel_tool_calls",
            )
        out.parallel = parallel
    if choice is None:
        return
    if not out.tools:
        raise _fail(
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are"
            " specified.",
            "tool_choice",
        )
    if choice in ("none", "auto", "required"):
        out.tool_choice = choice
        return
    function = choice.get("function") if isinstance(choice, Mapping) else None
    name = function.get("name") if isinstance(function, Mapping) else None
    if not isinstance(name, str) or name not in {t.name for t in out.tools}:
        raise _fail(
            f"Invalid value for 'tool_choice': no function named {name!r} was specified in"
            " the 'tools' parameter.",
            "tool_choice",
        )
    out.tool_choice = name


def _read_format(data: Mapping[str, Any], out: ChatReading) -> None:
    fmt = data.get("response_format")
    if fmt is None:
        return
    kind = fmt.get("type") if isinstance(fmt, Mapping) else None
    if kind in ("text", "json_object"):
        return
    if kind != "json_schema":
        raise _fail("Invalid value for 'response_format.type'.", "response_format")
    spec = fmt.get("json_schema")
    if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str):
        raise _fail(
            "Missing required parameter: 'response_format.json_schema.name'.", "response_format"
        )
    if not _NAME.match(spec["name"]):
        raise _fail("Invalid 'response_format.json_schema.name'.", "response_format")
    schema = spec.get("schema", {})
    if spec.get("strict") is True:
        problem = _strict_problem(schema, "()")
        if problem:
            raise _fail(
                f"Invalid schema for response_format '{spec['name']}': {problem}",
                "response_format",
            )
    out.output_schema = schema


def read_chat(
    data: Mapping[str, Any], messages: Sequence[Any], roles: frozenset[str]
) -> ChatReading:
    """Read and check the messages and the rich fields of a chat request body."""
    out = ChatReading()
    _read_messages(messages, roles, out)
    _read_tools(data, out)
    _read_choice(data, out)
    _read_format(data, out)
    effort = data.get("reasoning_effort")
    if effort is not None:
        if effort not in _EFFORTS:
            raise _fail(
                f"Invalid value for 'reasoning_effort': expected one of {', '.join(sorted(_EFFORTS))}.",
                "reasoning_effort",
            )
        out.reasoning = None if effort == "none" else str(effort)
    return out


def _call_id(neutral: str) -> str:
    return "call_" + neutral


def tool_calls_json(reply: SimReply) -> list[dict[str, Any]]:
    """``message.tool_calls`` of a whole reply."""
    return [
        {
            "id": _call_id(c.id),
            "type": "function",
            "function": {"name": c.name, "arguments": c.arguments},
        }
        for c in reply.tool_calls
    ]


def tool_call_fragments(reply: SimReply) -> list[list[dict[str, Any]]]:
    """``delta.tool_calls`` of each stream chunk: a call's head, then its arguments in pieces."""
    frames: list[list[dict[str, Any]]] = []
    for index, call in enumerate(reply.tool_calls):
        frames.append(
            [
                {
                    "index": index,
                    "id": _call_id(call.id),
                    "type": "function",
                    "function": {"name": call.name, "arguments": ""},
                }
            ]
        )
        text = call.arguments
        for start in range(0, len(text), _ARGUMENT_PIECE):
            piece = text[start : start + _ARGUMENT_PIECE]
            frames.append([{"index": index, "function": {"arguments": piece}}])
    return frames
