"""The simulator's reading of Gemini's rich request fields, and its thought signatures.

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

Thought signatures are ``thoughtSignature`` bytes (base64 in JSON) that the simulator can
check: a call's is bound to its name and arguments, so one moved to another call or sent
back with changed arguments is refused. On Gemini 3 models every model turn of the
current turn (after the last user text) with function calls must carry one on its first
call, or Google's placeholder ``skip_thought_signature_validator``; a signature that is
present must always be genuine.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any, Final

from patchwire.testing.sim_rich import sign
from patchwire.testing.sim_wire import SimTool, WireRequestError

from patchwire_gemini.generations import strict_signatures, thinks, uses_thinking_level
from patchwire_gemini.openapi_schema import from_openapi
from patchwire_gemini.request_features import JSON_SCHEMA_KEYWORDS
from patchwire_gemini.request_parts import FILES_PREFIX, SKIP_SIGNATURE

__all__ = [
    "MEDIA_TOKENS",
    "Reading",
    "call_signature",
    "read_contents",
    "read_generation",
    "read_tools",
    "text_signature",
]

#: what Gemini counts for an image (and a PDF page) up to 384 pixels a side
MEDIA_TOKENS: Final = 258
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
_TAG: Final = b"pwsim"


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def _proto(value: Any) -> Any:
    """A proto message's fields by their lowerCamelCase names: Google reads the proto's
    snake_case names too, and the SDK passes some through (``thinking_config`` fields)."""
    if not isinstance(value, Mapping):
        return value
    return {_camel(key): item for key, item in value.items()}


def _fail(message: str, where: str) -> WireRequestError:
    return WireRequestError(message, param=where)


def _canonical(args: Any) -> str:
    return json.dumps(args, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _token(payload: bytes) -> str:
    digest = hashlib.sha256(payload).digest()[:16]
    mac = bytes.fromhex(sign(digest.hex()))[:16]
    return base64.b64encode(_TAG + digest + mac).decode("ascii")


def call_signature(name: str, args: Any) -> str:
    """The signature the simulator issues for a call of ``name`` with ``args``."""
    return _token(f"call\x00{name}\x00{_canonical(args)}".encode())


def text_signature(request_id: str) -> str:
    """The signature the simulator issues on a text answer."""
    return _token(f"text\x00{request_id}".encode())


def _bytes(text: str) -> bytes:
    """Proto JSON bytes: standard or URL-safe base64, as Google reads both (the SDK sends the latter)."""
    return base64.b64decode(text.replace("-", "+").replace("_", "/"), validate=True)


def _genuine(signature: str) -> bytes | None:
    """The signed digest, if ``signature`` is one the simulator issued."""
    try:
        raw = _bytes(signature)
    except (binascii.Error, ValueError):
        return None
    if len(raw) != len(_TAG) + 32 or not raw.startswith(_TAG):
        return None
    digest, mac = raw[len(_TAG) : len(_TAG) + 16], raw[len(_TAG) + 16 :]
    return digest if bytes.fromhex(sign(digest.hex()))[:16] == mac else None


class Reading:
    """What one generateContent request's contents and rich fields say."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.prompt = ""
        self.media = 0
        self.tools: tuple[SimTool, ...] = ()
        self.tool_choice: str | None = None
        self.after_tool_result = False
        self.output_schema: Mapping[str, Any] | None = None
        self.reasoning: str | int | None = None
        self.thoughts = False
        self.replayed = 0


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
        _bytes(data)
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
        if not isinstance(media, Mapping) or set(media) != {"inlineData"}:
            raise _fail(f"Invalid value at '{where}.function_response.parts[{index}]'", where)
        _blob(
            media["inlineData"], f"{where}.function_response.parts[{index}].inline_data", uri=False
        )
    return str(response["name"])


def _check_signature(signature: Any, where: str, expected: bytes | None) -> bool:
    """Whether a present signature verified (the placeholder is accepted and not counted)."""
    if signature == SKIP_SIGNATURE:
        return False
    digest = _genuine(signature) if isinstance(signature, str) else None
    if digest is None or (expected is not None and digest != expected):
        raise _fail(
            f"Unable to submit request because the thought signature at {where} is not valid."
            " Send back the thoughtSignature of each part unchanged, on the part it came on.",
            f"{where}.thought_signature",
        )
    return True


def _call_digest(name: str, args: Any) -> bytes:
    return hashlib.sha256(f"call\x00{name}\x00{_canonical(args)}".encode()).digest()[:16]


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
                key: _proto(value) if key in ("inlineData", "fileData") else value
                for key, value in _proto(raw).items()
            }
            if "functionCall" in part:
                part["functionCall"] = _proto(part["functionCall"])
            if "functionResponse" in part:
                part["functionResponse"] = _proto(part["functionResponse"])
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
                    out.replayed += _check_signature(part["thoughtSignature"], at, None)
            elif field in ("inlineData", "fileData"):
                _blob(part[field], f"{at}.{field}", uri=field == "fileData")
                out.media += 1
            elif field == "functionCall":
                if role != "model":
                    raise _fail(f"* {at}: function calls are only allowed in model turns", at)
                name, args = _call(part, at)
                calls.append(name)
                if "thoughtSignature" in part:
                    out.replayed += _check_signature(
                        part["thoughtSignature"], at, _call_digest(name, args)
                    )
            else:
                if role != "user":
                    raise _fail(f"* {at}: function responses are only allowed in user turns", at)
                responses.append(_response(part, at))
        joined = "".join(texts)
        out.texts.append(joined)
        if role == "user" and joined.strip():
            out.prompt = joined
            current_from = index
        turns.append((role, calls, responses, bool(joined.strip())))
    _check_sequence(turns)
    if strict_signatures(model):
        for index in range(current_from, len(contents)):
            role, calls, _, _ = turns[index]
            if role == "model" and calls:
                first = next(
                    _proto(p) for p in contents[index]["parts"] if "functionCall" in _proto(p)
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


def _json_schema_problem(schema: Any, where: str) -> str | None:
    if isinstance(schema, list):
        for index, item in enumerate(schema):
            problem = _json_schema_problem(item, f"{where}[{index}]")
            if problem:
                return problem
        return None
    if not isinstance(schema, Mapping):
        return None
    for key, value in schema.items():
        if key not in JSON_SCHEMA_KEYWORDS:
            return f"{where}: keyword '{key}' is not supported"
        if key in ("properties", "$defs") and isinstance(value, Mapping):
            for name, sub in value.items():
                problem = _json_schema_problem(sub, f"{where}.{key}.{name}")
                if problem:
                    return problem
        elif key not in ("enum", "required", "propertyOrdering"):
            problem = _json_schema_problem(value, f"{where}.{key}")
            if problem:
                return problem
    return None


_OPENAPI_FIELDS: Final = frozenset(
    {
        "type",
        "format",
        "title",
        "description",
        "nullable",
        "enum",
        "items",
        "maxItems",
        "minItems",
        "properties",
        "required",
        "minProperties",
        "maxProperties",
        "minimum",
        "maximum",
        "minLength",
        "maxLength",
        "pattern",
        "example",
        "anyOf",
        "propertyOrdering",
        "default",
    }
)
_OPENAPI_TYPES: Final = frozenset(
    {"STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL", "TYPE_UNSPECIFIED"}
)


def _openapi_problem(schema: Any, where: str) -> str | None:
    if not isinstance(schema, Mapping):
        return f"{where}: expected a Schema object"
    for key in schema:
        if key not in _OPENAPI_FIELDS:
            return f"Unknown name \"{key}\" at '{where}': Cannot find field."
    if "anyOf" not in schema and str(schema.get("type", "")).upper() not in _OPENAPI_TYPES:
        return f"{where}.type: must be one of {', '.join(sorted(_OPENAPI_TYPES))}"
    subs = [("items", schema.get("items"))] if "items" in schema else []
    subs += [(f"properties.{k}", v) for k, v in (schema.get("properties") or {}).items()]
    subs += [(f"anyOf[{i}]", v) for i, v in enumerate(schema.get("anyOf") or ())]
    for name, sub in subs:
        problem = _openapi_problem(sub, f"{where}.{name}")
        if problem:
            return problem
    return None


def _proto_schema(schema: Any) -> Any:
    """An OpenAPI Schema's fields in lowerCamelCase at every level (property names kept)."""
    if not isinstance(schema, Mapping):
        return schema
    out = _proto(schema)
    if isinstance(out.get("properties"), Mapping):
        out["properties"] = {k: _proto_schema(v) for k, v in out["properties"].items()}
    if "items" in out:
        out["items"] = _proto_schema(out["items"])
    if isinstance(out.get("anyOf"), list):
        out["anyOf"] = [_proto_schema(b) for b in out["anyOf"]]
    return out


def _schema(holder: Mapping[str, Any], openapi: str, json_form: str, where: str) -> Any:
    """The JSON Schema a declaration or config carries in one of its two forms."""
    if openapi in holder and json_form in holder:
        raise _fail(f"* {where}: {openapi} and {json_form} cannot both be set", where)
    if json_form in holder:
        problem = _json_schema_problem(holder[json_form], f"{where}.{json_form}")
        if problem:
            raise _fail(f"* {problem}", f"{where}.{json_form}")
        return holder[json_form]
    if openapi in holder:
        schema = _proto_schema(holder[openapi])
        problem = _openapi_problem(schema, f"{where}.{openapi}")
        if problem:
            raise _fail(f"Invalid JSON payload received. {problem}", f"{where}.{openapi}")
        return from_openapi(schema)
    return None


def read_tools(data: Mapping[str, Any], out: Reading) -> None:
    tools = data.get("tools") or []
    if not isinstance(tools, list):
        raise _fail("Invalid value at 'tools': expected a list", "tools")
    declared: list[SimTool] = []
    for index, tool in enumerate(tools):
        where = f"tools[{index}]"
        if not isinstance(tool, Mapping):
            raise _fail(f"Invalid value at '{where}': expected an object", where)
        for number, raw in enumerate(_proto(tool).get("functionDeclarations") or ()):
            at = f"{where}.function_declarations[{number}]"
            decl = _proto(raw)
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
            schema = _schema(decl, "parameters", "parametersJsonSchema", at)
            if any(t.name == name for t in declared):
                raise _fail(f"* {at}.name: Duplicate function declaration: {name}", at)
            declared.append(SimTool(name, schema if isinstance(schema, Mapping) else {}))
    config = _proto(data.get("toolConfig") or data.get("tool_config") or {})
    calling = _proto(config.get("functionCallingConfig")) if isinstance(config, Mapping) else None
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
    config = _proto(config)
    mime = config.get("responseMimeType")
    schema = _schema(config, "responseSchema", "responseJsonSchema", "generation_config")
    if schema is not None:
        if mime not in ("application/json", "text/x.enum"):
            raise _fail(
                "* GenerateContentRequest.generation_config.response_mime_type: a response"
                " schema needs response_mime_type application/json",
                "generation_config.response_mime_type",
            )
        out.output_schema = schema
    thinking = _proto(config.get("thinkingConfig"))
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
