"""The simulator's checks of the two schema forms Gemini reads, and proto field names.

``parametersJsonSchema``/``responseJsonSchema`` may use only the JSON Schema keywords
Gemini's subset lists; ``parameters``/``responseSchema`` are OpenAPI ``Schema`` objects
(known fields, an upper-case ``type``). Google reads the proto's snake_case field names
beside the lowerCamelCase ones (the SDK passes some through), so fields are read by
their lowerCamelCase names after :func:`proto`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from patchwire.testing.sim_wire import WireRequestError

from patchwire_gemini.openapi_schema import from_openapi
from patchwire_gemini.request_features import JSON_SCHEMA_KEYWORDS

__all__ = ["camel", "proto", "read_schema"]


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def proto(value: Any) -> Any:
    """A proto message's fields by their lowerCamelCase names: Google reads the proto's
    snake_case names too, and the SDK passes some through (``thinking_config`` fields)."""
    if not isinstance(value, Mapping):
        return value
    return {camel(key): item for key, item in value.items()}


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
    if str(schema.get("type", "")).upper() == "OBJECT" and not schema.get("properties"):
        return f"{where}.properties: should be non-empty for OBJECT type"
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
    out = proto(schema)
    if isinstance(out.get("properties"), Mapping):
        out["properties"] = {k: _proto_schema(v) for k, v in out["properties"].items()}
    if "items" in out:
        out["items"] = _proto_schema(out["items"])
    if isinstance(out.get("anyOf"), list):
        out["anyOf"] = [_proto_schema(b) for b in out["anyOf"]]
    return out


def read_schema(holder: Mapping[str, Any], openapi: str, json_form: str, where: str) -> Any:
    """The JSON Schema a declaration or config carries in one of its two forms."""
    if openapi in holder and json_form in holder:
        raise WireRequestError(
            f"* {where}: {openapi} and {json_form} cannot both be set", param=where
        )
    if json_form in holder:
        problem = _json_schema_problem(holder[json_form], f"{where}.{json_form}")
        if problem:
            raise WireRequestError(f"* {problem}", param=f"{where}.{json_form}")
        return holder[json_form]
    if openapi in holder:
        schema = _proto_schema(holder[openapi])
        problem = _openapi_problem(schema, f"{where}.{openapi}")
        if problem:
            raise WireRequestError(
                f"Invalid JSON payload received. {problem}", param=f"{where}.{openapi}"
            )
        return from_openapi(schema)
    return None
