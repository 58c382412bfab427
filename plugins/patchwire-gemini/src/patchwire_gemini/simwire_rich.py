"""The simulator's reading of Gemini's rich request fields.

Reads, and refuses as Google's front end does: parts (``text``, ``inlineData`` with a
supported ``mimeType`` and base64 ``data``, ``fileData`` with a Files API URI,
``functionCall`` in model turns, ``functionResponse`` in user turns, ``thought``,
``thoughtSignature``), one data field per part; function responses only right after a
turn of function calls, as many as it made and with the same names; ``tools`` with
``functionDeclarations`` (Gemini's name rule, a description, ``parameters`` (OpenAPI
subset) or ``parametersJsonSchema`` (its JSON Schema subset), never both, no two of one
name); ``toolConfig.functionCallingConfig`` (mode, and ``allowedFunctionNames`` only with
``ANY``/``VALIDATED``, each declared); ``responseSchema``/``responseJsonSchema`` (one of
them, with ``responseMimeType: application/json``); ``thinkingConfig``
(``thinkingLevel`` on Gemini 3 only, a budget or a level but not both, nothing on models
that do not think).

Thought signatures are checked with :mod:`patchwire_gemini.simwire_signatures`: a call's
is bound to its name and arguments, so one moved to another call or sent back with
changed arguments is refused. On Gemini 3 models every model turn of the
current turn (after the last user text) with function calls must carry one on its first
call, or Google's placeholder ``skip_thought_signature_validator``; a signature that is
present must always be genuine.
"""

from __future__ import annotations

import binascii
import json
import re
from collections.abc import Mapping
from typing import Any, Final

from patchwire.testing.sim_wire import (
    RichReading,
    SimReply,
    SimRequest,
    SimTool,
    WireRequestError,
)

from patchwire_gemini.generations import strict_signatures, thinks, uses_thinking_level
from patchwire_gemini.media_tokens import TILE_TOKENS
from patchwire_gemini.request_parts import FILES_PREFIX
from patchwire_gemini.simwire_schemas import proto, read_schema
from patchwire_gemini.simwire_signatures import (
    call_digest,
    call_signature,
    check_signature,
    proto_bytes,
    text_signature,
)

__all__ = [
    "MEDIA_TOKENS",
    "Reading",
    "answer_parts",
    "call_parts",
    "read_contents",
    "read_generation",
    "read_tools",
    "signs",
    "thought_parts",
]

#: what the simulator counts per media part: Gemini's price of a small image or a PDF page
MEDIA_TOKENS: Final = TILE_TOKENS
_NAME: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$")
_MIME: Final = frozenset(
    {
        "image/png",
        "image/jpeg",
        "image/webp",
        "image/heic",
        "image/heif",
        "image/gif",
        "application/pdf",
        "text/plain",
    }
)
_PART_FIELDS: Final = frozenset(
    {
        "text",
        "inlineData",
        "fileData",
        "functionCall",
        "functionResponse",
        "thought",
        "thoughtSignature",
        "mediaResolution",
        "partMetadata",
    }
)
_DATA_FIELDS: Final = ("text", "inlineData", "fileData", "functionCall", "functionResponse")
_MODES: Final = frozenset({"AUTO", "ANY", "NONE", "VALIDATED", "MODE_UNSPECIFIED"})
_LEVELS: Final = {"MINIMAL": "low", "LOW": "low", "MEDIUM": "medium", "HIGH": "high"}


def _fail(message: str, where: str) -> WireRequestError:
    return WireRequestError(message, param=where)


class Reading(RichReading):
    """What one generateContent request says: each turn's text (calls and function
    responses included, as the model reads them), the current prompt, whether thoughts
    were asked for, and the rich fields."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self.prompt = ""
        self.thoughts = False


def _blob(value: Any, where: str, *, uri: bool) -> None:
    if not isinstance(value, Mapping):
        raise _fail(f"Invalid value at '{where}': expected an object", where)
    mime = value.get("mimeType")
    if uri:
        location = value.get("fileUri")
        if not isinstance(location, str) or not location.startswith(FILES_PREFIX):
            raise _fail(f"* {where}.file_uri: Invalid or unsupported file uri: {location!r}", where)
        if mime is not None and mime not in _MIME:
            raise _fail(f"* {where}.mime_type: Unsupported MIME type: {mime}", where)
        return
    if mime not in _MIME:
        raise _fail(f"* {where}.mime_type: Unsupported MIME type: {mime}", where)
    data = value.get("data")
    try:
        if not isinstance(data, str) or not data:
            raise ValueError
        proto_bytes(data)
    except (binascii.Error, ValueError):
        raise _fail(
            f"Invalid value at '{where}.data' (TYPE_BYTES), Base64 decoding failed", where
        ) from None


def _call(part: Mapping[str, Any], where: str) -> tuple[str, Any]:
    call = part["functionCall"]
    if not isinstance(call, Mapping) or not isinstance(call.get("name"), str):
        raise _fail(f"* {where}.function_call.name: a function call needs a name", where)
    args = call.get("args", {})
    if not isinstance(args, Mapping):
        raise _fail(f"Invalid value at '{where}.function_call.args': expected an object", where)
    return call["name"], args


def _response(part: Mapping[str, Any], where: str) -> str:
    response = part["functionResponse"]
    if not isinstance(response, Mapping) or not isinstance(response.get("name"), str):
        raise _fail(f"* {where}.function_response.name: a function response needs a name", where)
    if not isinstance(response.get("response"), Mapping):
        raise _fail(f"* {where}.function_response.response: must be an object", where)
    for index, media in enumerate(response.get("parts") or ()):
        media = proto(media)
        if not isinstance(media, Mapping) or set(media) != {"inlineData"}:
            raise _fail(f"Invalid value at '{where}.function_response.parts[{index}]'", where)
        _blob(
            proto(media["inlineData"]),
            f"{where}.function_response.parts[{index}].inline_data",
            uri=False,
        )
    return str(response["name"])


def read_contents(contents: list[Any], model: str, out: Reading) -> None:
    """Check every turn's parts and the call/response/signature rules; fill ``out``."""
    current_from = 0  # the current turn starts after the last user text
    turns: list[tuple[str, list[str], list[str], bool]] = []  # role, calls, responses, texted
    for index, content in enumerate(contents):
        where = f"contents[{index}]"
        role = content.get("role") or "user"
        parts = content.get("parts")
        calls: list[str] = []
        responses: list[str] = []
        texts: list[str] = []
        for number, raw in enumerate(parts):
            at = f"{where}.parts[{number}]"
            part = {
                key: proto(value) if key in ("inlineData", "fileData") else value
                for key, value in proto(raw).items()
            }
            if "functionCall" in part:
                part["functionCall"] = proto(part["functionCall"])
            if "functionResponse" in part:
                part["functionResponse"] = proto(part["functionResponse"])
            unknown = set(part) - _PART_FIELDS
            if unknown:
                name = sorted(unknown)[0]
                raise _fail(
                    f"Invalid JSON payload received. Unknown name \"{name}\" at '{at}':"
                    " Cannot find field.",
                    at,
                )
            present = [f for f in _DATA_FIELDS if f in part]
            if len(present) != 1:
                raise _fail(
                    f"* {at}: a part must hold exactly one of {', '.join(_DATA_FIELDS)}", at
                )
            field = present[0]
            if field == "text":
                if not isinstance(part["text"], str):
                    raise _fail(f"Invalid value at '{at}.text': expected a string", at)
                if not part.get("thought"):
                    texts.append(part["text"])
                if "thoughtSignature" in part and role == "model":
                    out.replayed += check_signature(part["thoughtSignature"], at, None)
            elif field in ("inlineData", "fileData"):
                _blob(part[field], f"{at}.{field}", uri=field == "fileData")
                out.media += 1
            elif field == "functionCall":
                if role != "model":
                    raise _fail(f"* {at}: function calls are only allowed in model turns", at)
                name, args = _call(part, at)
                calls.append(name)
                # The call the model made earlier is prompt it reads again: it counts as input.
                out.texts.append(f"{name} {json.dumps(args)}")
                if "thoughtSignature" in part:
                    out.replayed += check_signature(
                        part["thoughtSignature"], at, call_digest(name, args)
                    )
            else:
                if role != "user":
                    raise _fail(f"* {at}: function responses are only allowed in user turns", at)
                responses.append(_response(part, at))
                # What the function answered is prompt the model reads: it counts as input.
                out.texts.append(json.dumps(part["functionResponse"].get("response")))
        joined = "".join(texts)
        out.texts.append(joined)
        if role == "user" and joined.strip():
            out.prompt = joined
            current_from = index
        out.tool_rounds += role == "model" and bool(calls)
        turns.append((role, calls, responses, bool(joined.strip())))
    _check_sequence(turns)
    if strict_signatures(model):
        for index in range(current_from, len(contents)):
            role, calls, _, _ = turns[index]
            if role == "model" and calls:
                first = next(
                    proto(p) for p in contents[index]["parts"] if "functionCall" in proto(p)
                )
                if "thoughtSignature" not in first:
                    raise _fail(
                        f"Function call is missing a thought_signature in functionCall parts."
                        f" This is required for tools to work correctly, and missing"
                        f" thought_signature may lead to degraded model performance."
                        f" Position: contents[{index}]",
                        f"contents[{index}]",
                    )
    out.after_tool_result = bool(turns and turns[-1][2])


def _check_sequence(turns: list[tuple[str, list[str], list[str], bool]]) -> None:
    for index, (_, _, responses, _) in enumerate(turns):
        if not responses:
            continue
        before = turns[index - 1] if index else None
        if before is None or not before[1]:
            raise _fail(
                "Please ensure that function response turn comes immediately after a function"
                f" call turn. Position: contents[{index}]",
                f"contents[{index}]",
            )
        if sorted(before[1]) != sorted(responses):
            raise _fail(
                "Please ensure that the number of function response parts is equal to the"
                " number of function call parts of the function call turn, and that they"
                f" name the same functions. Position: contents[{index}]",
                f"contents[{index}]",
            )


def read_tools(data: Mapping[str, Any], out: Reading) -> None:
    tools = data.get("tools") or []
    if not isinstance(tools, list):
        raise _fail("Invalid value at 'tools': expected a list", "tools")
    declared: list[SimTool] = []
    for index, tool in enumerate(tools):
        where = f"tools[{index}]"
        if not isinstance(tool, Mapping):
            raise _fail(f"Invalid value at '{where}': expected an object", where)
        for number, raw in enumerate(proto(tool).get("functionDeclarations") or ()):
            at = f"{where}.function_declarations[{number}]"
            decl = proto(raw)
            name = decl.get("name") if isinstance(decl, Mapping) else None
            if not isinstance(name, str) or not _NAME.match(name):
                raise _fail(
                    f"* {at}.name: Invalid function name. Must start with a letter or an"
                    " underscore. Must be a-z, A-Z, 0-9, or contain underscores, dots,"
                    " colons and dashes, with a maximum length of 64.",
                    f"{at}.name",
                )
            if not isinstance(decl.get("description"), str):
                raise _fail(f"* {at}.description: description is required", at)
            schema = read_schema(decl, "parameters", "parametersJsonSchema", at)
            if any(t.name == name for t in declared):
                raise _fail(f"* {at}.name: Duplicate function declaration: {name}", at)
            # A declaration without parameters takes no arguments: an empty object.
            no_arguments = {"type": "object", "properties": {}, "additionalProperties": False}
            declared.append(SimTool(name, schema if isinstance(schema, Mapping) else no_arguments))
    config = proto(data.get("toolConfig") or data.get("tool_config") or {})
    calling = proto(config.get("functionCallingConfig")) if isinstance(config, Mapping) else None
    mode, allowed = "AUTO", None
    if isinstance(calling, Mapping):
        mode = calling.get("mode") or "AUTO"
        if mode not in _MODES:
            raise _fail(
                f"Invalid value at 'tool_config.function_calling_config.mode', {json.dumps(mode)}",
                "tool_config.function_calling_config.mode",
            )
        allowed = calling.get("allowedFunctionNames")
    if allowed is not None:
        if mode not in ("ANY", "VALIDATED"):
            raise _fail(
                "* tool_config.function_calling_config.allowed_function_names: may only be"
                " set when mode is ANY or VALIDATED",
                "tool_config.function_calling_config.allowed_function_names",
            )
        unknown = [n for n in allowed if n not in {t.name for t in declared}]
        if unknown:
            raise _fail(
                f"* tool_config.function_calling_config.allowed_function_names: {unknown[0]}"
                " is not a declared function",
                "tool_config.function_calling_config.allowed_function_names",
            )
        declared = [t for t in declared if t.name in allowed]
    out.tools = tuple(declared)
    if mode == "NONE":
        out.tool_choice = "none"
    elif mode == "ANY":
        out.tool_choice = declared[0].name if len(declared) == 1 and allowed else "required"


def read_generation(config: Mapping[str, Any], model: str, out: Reading) -> None:
    config = proto(config)
    mime = config.get("responseMimeType")
    schema = read_schema(config, "responseSchema", "responseJsonSchema", "generation_config")
    if schema is not None:
        if mime not in ("application/json", "text/x.enum"):
            raise _fail(
                "* GenerateContentRequest.generation_config.response_mime_type: a response"
                " schema needs response_mime_type application/json",
                "generation_config.response_mime_type",
            )
        out.output_schema = schema
    thinking = proto(config.get("thinkingConfig"))
    if thinking is None:
        return
    where = "generation_config.thinking_config"
    if not isinstance(thinking, Mapping) or set(thinking) - {
        "thinkingBudget",
        "thinkingLevel",
        "includeThoughts",
    }:
        raise _fail(f"Invalid value at '{where}'", where)
    if not thinks(model):
        raise _fail("Thinking is not supported for this model.", where)
    level, budget = thinking.get("thinkingLevel"), thinking.get("thinkingBudget")
    if level is not None and budget is not None:
        raise _fail("Only one of thinking_level and thinking_budget may be set.", where)
    if level is not None:
        if not uses_thinking_level(model):
            raise _fail(
                "Thinking level is not supported for this model.", f"{where}.thinking_level"
            )
        if level not in _LEVELS:
            raise _fail(f"Invalid value at '{where}.thinking_level', {json.dumps(level)}", where)
        out.reasoning = _LEVELS[level]
    elif budget is not None:
        if isinstance(budget, bool) or not isinstance(budget, int) or budget < -1:
            raise _fail(f"Invalid value at '{where}.thinking_budget', {json.dumps(budget)}", where)
        out.reasoning = "medium" if budget == -1 else (budget or None)
    out.thoughts = bool(thinking.get("includeThoughts"))


# --- spelling rich answers ------------------------------------------------------------------


def signs(request: SimRequest, reply: SimReply) -> bool:
    """Whether the model thought, so its turn carries a signature (Gemini 3 always thinks)."""
    return strict_signatures(request.model) or reply.reasoning_tokens > 0


def thought_parts(request: SimRequest, reply: SimReply) -> list[dict[str, Any]]:
    """The thought summary part, when thoughts were asked for (``includeThoughts``)."""
    if reply.reasoning and request.options.get("thoughts"):
        return [{"text": reply.reasoning, "thought": True}]
    return []


def call_parts(request: SimRequest, reply: SimReply) -> list[dict[str, Any]]:
    """The reply's calls as ``functionCall`` parts; only the first of a parallel turn is signed."""
    parts: list[dict[str, Any]] = []
    for index, call in enumerate(reply.tool_calls):
        args = json.loads(call.arguments)
        part: dict[str, Any] = {"functionCall": {"name": call.name, "args": args}}
        if index == 0 and signs(request, reply):
            part["thoughtSignature"] = call_signature(call.name, args)
        parts.append(part)
    return parts


def answer_parts(request: SimRequest, reply: SimReply) -> list[dict[str, Any]]:
    """A whole answer's parts: the thought, then the calls or the (signed) text."""
    parts = thought_parts(request, reply)
    if reply.tool_calls:
        return parts + call_parts(request, reply)
    text: dict[str, Any] = {"text": reply.text}
    if signs(request, reply):
        text["thoughtSignature"] = text_signature(reply.request_id)
    return [*parts, text]
