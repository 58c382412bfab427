"""Values that satisfy a JSON Schema, drawn deterministically: the simulator's tool
arguments and structured answers.

``instance_for(schema, rng)`` covers the subset the providers accept (WIRE-RICH §2):
type (one or several), enum, const, anyOf/oneOf (the first branch that yields a value),
allOf (the first branch, which is enough for the schemas patchwire builds), $ref into
``#/$defs``, properties/required/additionalProperties, items/prefixItems, min/max
items, string length, numeric bounds. Optional properties are included on a coin flip,
so a caller sees both shapes. A ``pattern`` or ``format`` is not honoured; the
simulator's wires refuse such schemas under strict mode rather than answer wrongly.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

__all__ = ["instance_for"]

_WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel")
_MAX_DEPTH = 6


def instance_for(schema: Any, rng: random.Random, root: Mapping[str, Any] | None = None) -> Any:
    """A value valid against ``schema``, the same for the same ``rng`` state."""
    return _draw(schema, rng, root if root is not None else schema, 0)


def _draw(schema: Any, rng: random.Random, root: Any, depth: int) -> Any:
    if schema is True or not isinstance(schema, Mapping) or not schema:
        return _WORDS[rng.randrange(len(_WORDS))]
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        node: Any = root
        for piece in ref[2:].split("/"):
            node = node[piece]
        return _draw(node, rng, root, depth + 1)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        values = list(schema["enum"])
        return values[rng.randrange(len(values))]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            branches = list(schema[key])
            # Past the depth limit prefer null so recursive schemas end.
            if depth >= _MAX_DEPTH:
                for branch in branches:
                    if isinstance(branch, Mapping) and branch.get("type") == "null":
                        return None
            return _draw(branches[rng.randrange(len(branches))], rng, root, depth + 1)
    if schema.get("allOf"):
        return _draw(schema["allOf"][0], rng, root, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        options = [k for k in kind if k != "null"] or ["null"]
        if depth >= _MAX_DEPTH and "null" in kind:
            return None
        kind = options[rng.randrange(len(options))]
    if kind is None:
        kind = "object" if "properties" in schema else "string"
    return _BY_TYPE[kind](schema, rng, root, depth)


def _string(schema: Mapping[str, Any], rng: random.Random, root: Any, depth: int) -> str:
    low = int(schema.get("minLength", 0))
    high = int(schema.get("maxLength", max(low, 24)))
    text = " ".join(_WORDS[rng.randrange(len(_WORDS))] for _ in range(1 + rng.randrange(3)))
    while len(text) < low:
        text += "x"
    return text[:high]


def _number(schema: Mapping[str, Any], rng: random.Random, root: Any, depth: int) -> float:
    low, high = _bounds(schema)
    value = round(rng.uniform(low, high), 3)
    return min(max(value, low), high)


def _integer(schema: Mapping[str, Any], rng: random.Random, root: Any, depth: int) -> int:
    low, high = _bounds(schema)
    lo = int(low) if float(low).is_integer() else int(low) + 1
    if "exclusiveMinimum" in schema and lo <= schema["exclusiveMinimum"]:
        lo = int(schema["exclusiveMinimum"]) + 1
    hi = int(high)
    if "exclusiveMaximum" in schema and hi >= schema["exclusiveMaximum"]:
        hi = int(schema["exclusiveMaximum"]) - 1
    return rng.randint(lo, max(lo, hi))


def _bounds(schema: Mapping[str, Any]) -> tuple[float, float]:
    low = schema.get("minimum", schema.get("exclusiveMinimum", 0))
    high = schema.get("maximum", schema.get("exclusiveMaximum", max(low, 0) + 100))
    return float(low), float(high)


def _array(schema: Mapping[str, Any], rng: random.Random, root: Any, depth: int) -> list[Any]:
    prefix = list(schema.get("prefixItems", ()))
    low = int(schema.get("minItems", 0))
    high = int(schema.get("maxItems", max(low, len(prefix), 3)))
    count = len(prefix) if prefix else rng.randint(low, max(low, min(high, low + 3)))
    if depth >= _MAX_DEPTH:
        count = max(low, len(prefix))
    items = schema.get("items", {})
    return [
        _draw(prefix[i] if i < len(prefix) else items, rng, root, depth + 1) for i in range(count)
    ]


def _object(schema: Mapping[str, Any], rng: random.Random, root: Any, depth: int) -> dict[str, Any]:
    properties: Mapping[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", ()))
    out: dict[str, Any] = {}
    for name, sub in properties.items():
        if name in required or (depth < _MAX_DEPTH and rng.random() < 0.5):
            out[name] = _draw(sub, rng, root, depth + 1)
    extra = schema.get("additionalProperties", False)
    if not properties and isinstance(extra, Mapping) and depth < _MAX_DEPTH:
        for i in range(rng.randrange(3)):
            out[f"{_WORDS[rng.randrange(len(_WORDS))]}_{i}"] = _draw(extra, rng, root, depth + 1)
    return out


_BY_TYPE = {
    "string": _string,
    "number": _number,
    "integer": _integer,
    "boolean": lambda schema, rng, root, depth: rng.random() < 0.5,
    "null": lambda schema, rng, root, depth: None,
    "array": _array,
    "object": _object,
}
