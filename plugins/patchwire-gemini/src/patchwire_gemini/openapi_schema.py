"""JSON Schema to Gemini's OpenAPI ``Schema`` subset, and back.

``responseSchema`` and ``FunctionDeclaration.parameters`` take the OpenAPI 3.0 ``Schema``
object (WIRE-RICH §2): upper-case ``type``, ``nullable`` instead of a ``null`` type, no
``$ref``, ``oneOf``/``allOf``, ``const`` or ``additionalProperties``, no ``OBJECT`` without properties, and the int64
bounds (``minItems``, ``maxLength``...) written as strings in proto JSON.
:func:`to_openapi` rewrites what has an equivalent (``$ref`` inlined, ``oneOf`` as
``anyOf``, a one-branch ``allOf`` merged, a string ``const`` as a one-value ``enum``, a
``null`` branch as ``nullable``) and refuses, naming the place, what has none (recursion,
``not``, a non-string ``enum``, a free-form map). ``additionalProperties`` is dropped: it has no
equivalent and Google's SDK refuses it on the Developer API, and core validates every
reply against the caller's full schema anyway. ``propertyOrdering`` keeps the caller's
property order, which Gemini otherwise sorts.

:func:`from_openapi` reads such a schema back as JSON Schema (the simulator answers it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

__all__ = ["SchemaSubsetError", "from_openapi", "to_openapi"]

_TYPES: Final = frozenset({"string", "number", "integer", "boolean", "array", "object", "null"})
_COPIED: Final = ("format", "title", "description", "pattern", "minimum", "maximum", "default")
_COUNTS: Final = (
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "minProperties",
    "maxProperties",
)
_REFUSED: Final = ("not", "if", "then", "else", "dependentSchemas", "dependentRequired")


class SchemaSubsetError(ValueError):
    """A JSON Schema with no equivalent in Gemini's OpenAPI subset."""


def to_openapi(schema: Mapping[str, Any]) -> dict[str, Any]:
    """``schema`` in Gemini's OpenAPI ``Schema`` form."""
    return _convert(schema, schema, "#", ())


def _resolve(ref: str, root: Mapping[str, Any], where: str) -> Any:
    if not ref.startswith("#/"):
        raise SchemaSubsetError(f"{where}: only local $ref values can be inlined, got {ref!r}")
    node: Any = root
    for piece in ref[2:].split("/"):
        if not isinstance(node, Mapping) or piece not in node:
            raise SchemaSubsetError(f"{where}: $ref {ref!r} points at nothing")
        node = node[piece]
    return node


def _convert(
    schema: Any, root: Mapping[str, Any], where: str, refs: tuple[str, ...]
) -> dict[str, Any]:
    if schema is True or schema == {}:
        # Anything: the subset has no "any" type; a string is what a model can always write.
        return {"type": "STRING"}
    if not isinstance(schema, Mapping):
        raise SchemaSubsetError(f"{where}: a schema must be an object, got {schema!r}")
    for key in _REFUSED:
        if key in schema:
            raise SchemaSubsetError(f"{where}: '{key}' has no equivalent in Gemini's schema subset")
    ref = schema.get("$ref")
    if isinstance(ref, str):
        if ref in refs:
            raise SchemaSubsetError(
                f"{where}: {ref} is recursive, which Gemini's schema subset cannot express;"
                " use the v1beta API with a 2.5 or later model (responseJsonSchema)"
            )
        target = _resolve(ref, root, where)
        merged = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        return _convert(merged, root, where, (*refs, ref))
    all_of = schema.get("allOf")
    if all_of is not None:
        if not isinstance(all_of, list) or len(all_of) != 1:
            raise SchemaSubsetError(f"{where}: only a one-branch allOf can be merged")
        merged = {**all_of[0], **{k: v for k, v in schema.items() if k != "allOf"}}
        return _convert(merged, root, where, refs)
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if branches is not None:
            return _union(schema, key, branches, root, where, refs)
    out: dict[str, Any] = {}
    kind = schema.get("type")
    if isinstance(kind, list):
        real = [k for k in kind if k != "null"]
        if len(real) != 1:
            raise SchemaSubsetError(f"{where}: a type list must be one type and maybe null")
        out["nullable"] = "null" in kind or None
        kind = real[0]
    if "const" in schema:
        if not isinstance(schema["const"], str):
            raise SchemaSubsetError(f"{where}: only a string const can become an enum")
        out["enum"] = [schema["const"]]
        kind = kind or "string"
    if kind is None:
        kind = "object" if "properties" in schema else "string"
    if kind not in _TYPES:
        raise SchemaSubsetError(f"{where}: unknown type {kind!r}")
    out = {"type": kind.upper(), **{k: v for k, v in out.items() if v is not None}}
    if "enum" in schema:
        values = schema["enum"]
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise SchemaSubsetError(f"{where}: Gemini's schema subset takes string enums only")
        out["enum"] = list(values)
        out["type"] = "STRING"
    for key in _COPIED:
        if key in schema:
            out[key] = schema[key]
    for key in _COUNTS:
        if key in schema:
            out[key] = str(int(schema[key]))  # int64 fields are strings in proto JSON
    if kind == "array":
        items = schema.get("items", True)
        if "prefixItems" in schema:
            raise SchemaSubsetError(f"{where}: prefixItems (tuples) have no equivalent")
        out["items"] = _convert(items, root, f"{where}/items", refs)
    properties = schema.get("properties")
    if kind == "object" and not properties:
        # Gemini refuses an OBJECT without properties; a free-form map has no equivalent.
        raise SchemaSubsetError(
            f"{where}: an object without declared properties (a free-form map) has no"
            " equivalent; declare its properties, or use the v1beta API with a 2.5 or later"
            " model (JSON Schema)"
        )
    if isinstance(properties, Mapping):
        out["properties"] = {
            name: _convert(sub, root, f"{where}/properties/{name}", refs)
            for name, sub in properties.items()
        }
        out["propertyOrdering"] = list(properties)
        if schema.get("required"):
            out["required"] = list(schema["required"])
    return out


def _union(
    schema: Mapping[str, Any],
    key: str,
    branches: Any,
    root: Mapping[str, Any],
    where: str,
    refs: tuple[str, ...],
) -> dict[str, Any]:
    if not isinstance(branches, list) or not branches:
        raise SchemaSubsetError(f"{where}: {key} must be a non-empty list")
    real = [b for b in branches if not (isinstance(b, Mapping) and b.get("type") == "null")]
    nullable = len(real) < len(branches)
    rest = {k: v for k, v in schema.items() if k not in ("anyOf", "oneOf")}
    if len(real) == 1:
        out = _convert({**real[0], **rest}, root, where, refs)
    else:
        out = {
            "anyOf": [_convert(b, root, f"{where}/{key}/{i}", refs) for i, b in enumerate(real)],
            **{k: rest[k] for k in ("description", "title") if k in rest},
        }
    if nullable:
        out["nullable"] = True
    return out


def from_openapi(schema: Any) -> Any:
    """A Gemini OpenAPI ``Schema`` as JSON Schema."""
    if not isinstance(schema, Mapping):
        return {}
    if "anyOf" in schema:
        out: dict[str, Any] = {"anyOf": [from_openapi(b) for b in schema["anyOf"]]}
        if schema.get("nullable"):
            out["anyOf"].append({"type": "null"})
        return out
    kind = str(schema.get("type", "STRING")).lower()
    result: dict[str, Any] = {"type": [kind, "null"] if schema.get("nullable") else kind}
    for key in ("enum", "minimum", "maximum", "required"):
        if key in schema:
            result[key] = schema[key]
    for key in _COUNTS:
        if key in schema:
            result[key] = int(schema[key])
    if "items" in schema:
        result["items"] = from_openapi(schema["items"])
    if isinstance(schema.get("properties"), Mapping):
        result["properties"] = {k: from_openapi(v) for k, v in schema["properties"].items()}
        result["additionalProperties"] = False
    return result
