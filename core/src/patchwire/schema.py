"""JSON Schema from Python types, a small validator, and values built back from JSON.

``schema_for(tp)`` turns an annotation into JSON Schema: ``str``, ``int``, ``float``,
``bool``, ``None``, ``list[T]``, ``tuple[T, ...]``, ``dict[str, T]``, ``Literal``, enums,
``Optional``/unions, and classes: attrs, dataclasses, ``TypedDict``, and pydantic models
when pydantic is installed (asked for its own schema, imported only if the class is
one). Objects get ``additionalProperties: false`` and list the fields without a default
as ``required``, which is the portable subset every provider accepts (WIRE-RICH §2).

``validate(schema, value)`` checks a value against the subset of JSON Schema that the
providers accept (type, properties, required, additionalProperties, items, prefixItems,
enum, const, anyOf, oneOf, allOf, $ref to ``#/$defs`` or ``#/definitions``, numeric and
length bounds, pattern); ``format`` is not checked. Core carries this instead of
depending on ``jsonschema`` so it stays light; the tests hold it to ``jsonschema``.

``build(tp, value)`` turns validated JSON back into the type: an attrs/dataclass/pydantic
instance, an enum member, a tuple.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import re
import sys
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Union, get_args, get_origin

import attrs

__all__ = ["SchemaError", "build", "schema_for", "validate"]

_PRIMITIVES: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
    type(None): {"type": "null"},
    Any: {},
    object: {},
}


class SchemaError(TypeError):
    """A Python type that cannot be written as JSON Schema."""


def _is_pydantic(tp: Any) -> bool:
    # Asking sys.modules keeps pydantic unimported unless the application already uses it.
    pydantic = sys.modules.get("pydantic")
    return pydantic is not None and isinstance(tp, type) and issubclass(tp, pydantic.BaseModel)


def _is_typeddict(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__required_keys__")


def _hints(tp: Any) -> dict[str, Any]:
    return typing.get_type_hints(tp, include_extras=False)


def schema_for(tp: Any) -> dict[str, Any]:
    """The JSON Schema of a Python type; ``SchemaError`` names a type it cannot express."""
    if tp in _PRIMITIVES:
        return dict(_PRIMITIVES[tp])
    origin = get_origin(tp)
    args = get_args(tp)
    if origin is Literal:
        values = list(args)
        if not all(isinstance(v, str | int | float | bool) for v in values):
            raise SchemaError(f"Literal values must be str, int, float or bool: {tp!r}")
        return {"enum": values}
    if origin in (Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        nullable = len(options) < len(args)
        if len(options) == 1:
            inner = schema_for(options[0])
            if nullable and isinstance(inner.get("type"), str):
                return {**inner, "type": [inner["type"], "null"]}
            return {"anyOf": [inner, {"type": "null"}]} if nullable else inner
        branches = [schema_for(a) for a in options] + ([{"type": "null"}] if nullable else [])
        return {"anyOf": branches}
    if origin in (list, Sequence, typing.Sequence, set, frozenset) or tp in (list, set, frozenset):
        return {"type": "array", "items": schema_for(args[0]) if args else {}}
    if origin is tuple or tp is tuple:
        if not args or (len(args) == 2 and args[1] is Ellipsis):
            return {"type": "array", "items": schema_for(args[0]) if args else {}}
        return {
            "type": "array",
            "prefixItems": [schema_for(a) for a in args],
            "minItems": len(args),
            "maxItems": len(args),
        }
    if origin in (dict, Mapping, typing.Mapping) or tp is dict:
        if args and args[0] is not str:
            raise SchemaError(f"JSON object keys are strings; {tp!r} has {args[0]!r} keys")
        return {"type": "object", "additionalProperties": schema_for(args[1]) if args else {}}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return {"enum": [m.value for m in tp]}
    if _is_pydantic(tp):
        return dict(tp.model_json_schema())
    if isinstance(tp, type):
        fields = _fields(tp)
        if fields is not None:
            return _object_schema(tp, fields)
    raise SchemaError(
        f"cannot write {tp!r} as JSON Schema; use str, int, float, bool, list, dict, Literal,"
        " an enum, an attrs class, a dataclass, a TypedDict or a pydantic model"
    )


def _fields(tp: type) -> list[tuple[str, Any, bool]] | None:
    """(name, annotation, required) for each field of a record type, or None."""
    if attrs.has(tp):
        hints = _hints(tp)
        return [
            (f.alias or f.name, hints.get(f.name, Any), f.default is attrs.NOTHING)
            for f in attrs.fields(tp)
            if f.init
        ]
    if dataclasses.is_dataclass(tp):
        hints = _hints(tp)
        return [
            (
                f.name,
                hints.get(f.name, Any),
                f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
            )
            for f in dataclasses.fields(tp)
            if f.init
        ]
    if _is_typeddict(tp):
        hints = _hints(tp)
        required: frozenset[str] = getattr(tp, "__required_keys__", frozenset())
        return [(name, hint, name in required) for name, hint in hints.items()]
    return None


def _object_schema(tp: type, fields: list[tuple[str, Any, bool]]) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {name: schema_for(hint) for name, hint, _ in fields},
        "required": [name for name, _, required in fields if required],
        "additionalProperties": False,
    }
    doc = inspect.getdoc(tp)
    if doc and not doc.startswith(tp.__name__ + "("):  # dataclasses invent a signature doc
        schema["description"] = doc.split("\n\n")[0].strip()
    return schema


# --- validation -------------------------------------------------------------------------------

_TYPES: dict[str, Any] = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "null": type(None),
    "array": list,
    "object": dict,
}


def _type_ok(name: str, value: Any) -> bool:
    if name in ("integer", "number") and isinstance(value, bool):
        return False
    if name == "integer" and isinstance(value, float):
        return value.is_integer()
    if name == "array":
        return isinstance(value, list | tuple)
    if name == "object":
        return isinstance(value, Mapping)
    expected = _TYPES.get(name)
    return expected is not None and isinstance(value, expected)


def validate(schema: Mapping[str, Any], value: Any) -> str | None:
    """None when ``value`` satisfies ``schema``, else the first problem, with its JSON path."""
    return _check(schema, value, "$", schema)


def _check(schema: Any, value: Any, path: str, root: Mapping[str, Any]) -> str | None:
    if schema is True or schema == {}:
        return None
    if schema is False:
        return f"{path}: no value is allowed here"
    if not isinstance(schema, Mapping):
        return f"{path}: the schema is not an object"
    ref = schema.get("$ref")
    if isinstance(ref, str):
        target = _resolve(ref, root)
        if target is None:
            return f"{path}: cannot resolve $ref {ref!r}"
        problem = _check(target, value, path, root)
        if problem:
            return problem
    kind = schema.get("type")
    if kind is not None:
        names = [kind] if isinstance(kind, str) else list(kind)
        if not any(_type_ok(n, value) for n in names):
            return f"{path}: expected {' or '.join(names)}, got {_json_type(value)}"
    if "enum" in schema and not any(_same(value, e) for e in schema["enum"]):
        return f"{path}: {value!r} is not one of {schema['enum']!r}"
    if "const" in schema and not _same(value, schema["const"]):
        return f"{path}: expected {schema['const']!r}, got {value!r}"
    for key in ("anyOf", "oneOf"):
        if key in schema:
            passed = sum(_check(s, value, path, root) is None for s in schema[key])
            if passed == 0 or (key == "oneOf" and passed > 1):
                return f"{path}: matches {passed} of the {key} schemas"
    for sub in schema.get("allOf", ()):
        problem = _check(sub, value, path, root)
        if problem:
            return problem
    if isinstance(value, str) and not isinstance(value, bool):
        return _check_string(schema, value, path)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _check_number(schema, value, path)
    if isinstance(value, list | tuple):
        return _check_array(schema, value, path, root)
    if isinstance(value, Mapping):
        return _check_object(schema, value, path, root)
    return None


def _json_type(value: Any) -> str:
    for name in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if _type_ok(name, value):
            return name
    return type(value).__name__


def _same(a: Any, b: Any) -> bool:
    return a == b and isinstance(a, bool) == isinstance(b, bool)


def _resolve(ref: str, root: Mapping[str, Any]) -> Any:
    if not ref.startswith("#"):
        return None
    node: Any = root
    for piece in ref[1:].split("/")[1:]:
        piece = piece.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, Mapping) or piece not in node:
            return None
        node = node[piece]
    return node


def _check_string(schema: Mapping[str, Any], value: str, path: str) -> str | None:
    if "minLength" in schema and len(value) < schema["minLength"]:
        return f"{path}: shorter than {schema['minLength']} characters"
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        return f"{path}: longer than {schema['maxLength']} characters"
    if "pattern" in schema and re.search(schema["pattern"], value) is None:
        return f"{path}: does not match the pattern {schema['pattern']!r}"
    return None


_BOUNDS = (
    ("minimum", ">="),
    ("maximum", "<="),
    ("exclusiveMinimum", ">"),
    ("exclusiveMaximum", "<"),
)


def _within(value: float, sign: str, bound: float) -> bool:
    if sign == ">=":
        return value >= bound
    if sign == "<=":
        return value <= bound
    return value > bound if sign == ">" else value < bound


def _check_number(schema: Mapping[str, Any], value: float, path: str) -> str | None:
    for key, sign in _BOUNDS:
        if key in schema and not _within(value, sign, schema[key]):
            return f"{path}: {value!r} is not {sign} {schema[key]!r}"
    step = schema.get("multipleOf")
    if step and (value / step) != int(value / step):
        return f"{path}: {value!r} is not a multiple of {step!r}"
    return None


def _check_array(
    schema: Mapping[str, Any], value: Sequence[Any], path: str, root: Mapping[str, Any]
) -> str | None:
    if "minItems" in schema and len(value) < schema["minItems"]:
        return f"{path}: fewer than {schema['minItems']} items"
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        return f"{path}: more than {schema['maxItems']} items"
    prefix = schema.get("prefixItems", ())
    for index, item in enumerate(value):
        sub = prefix[index] if index < len(prefix) else schema.get("items", True)
        problem = _check(sub, item, f"{path}[{index}]", root)
        if problem:
            return problem
    return None


def _check_object(
    schema: Mapping[str, Any], value: Mapping[str, Any], path: str, root: Mapping[str, Any]
) -> str | None:
    for name in schema.get("required", ()):
        if name not in value:
            return f"{path}: missing required property {name!r}"
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    for name, item in value.items():
        if not isinstance(name, str):
            return f"{path}: property name {name!r} is not a string"
        sub = properties.get(name, extra)
        if sub is False:
            return f"{path}: unexpected property {name!r}"
        problem = _check(sub, item, f"{path}.{name}", root)
        if problem:
            return problem
    return None


# --- building values back -------------------------------------------------------------------


def build(tp: Any, value: Any) -> Any:
    """``value`` (already validated against ``schema_for(tp)``) as an instance of ``tp``."""
    if tp in _PRIMITIVES:
        return float(value) if tp is float and isinstance(value, int) else value
    origin = get_origin(tp)
    args = get_args(tp)
    if origin is Literal:
        return value
    if origin in (Union, types.UnionType):
        if value is None:
            return None
        for option in args:
            if option is type(None):
                continue
            if validate(schema_for(option), value) is None:
                return build(option, value)
        return value
    if origin in (list, Sequence, typing.Sequence) or tp is list:
        return [build(args[0], v) for v in value] if args else list(value)
    if origin in (set, frozenset):
        return origin(build(args[0], v) for v in value)
    if origin is tuple or tp is tuple:
        if not args:
            return tuple(value)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(build(args[0], v) for v in value)
        return tuple(build(a, v) for a, v in zip(args, value, strict=True))
    if origin in (dict, Mapping, typing.Mapping):
        return {k: build(args[1], v) for k, v in value.items()} if args else dict(value)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp(value)
    if _is_pydantic(tp):
        return tp.model_validate(value)
    if isinstance(tp, type):
        fields = _fields(tp)
        if fields is not None:
            hints = {name: hint for name, hint, _ in fields}
            kwargs = {k: build(hints.get(k, Any), v) for k, v in value.items()}
            return kwargs if _is_typeddict(tp) else tp(**kwargs)
    return value
