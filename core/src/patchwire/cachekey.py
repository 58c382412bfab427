"""Canonical cache keys: equal requests get equal keys, different requests different ones.

A key is the sha256 of compact, sorted-key JSON built from the connector, model,
operation and payload. The rules that decide when two payloads are "equal":

- dict key order never matters; tuples and lists are the same sequence;
- attrs instances count as the dict ``attrs.asdict`` gives (the class name is not part of
  the key: the operation already says what kind of request it is);
- numbers compare by value, so ``temperature=1`` and ``temperature=1.0`` share a key
  (every provider reads them the same), while ``True`` and ``1`` do not (JSON keeps
  booleans apart, and so do providers);
- dict keys must be strings, or ints, which are written in decimal because that is what
  they become on the wire (e.g. OpenAI's ``logit_bias`` token ids);
- image and document parts count by their sha256 (and media type, URL, filename), never
  by their bytes; an output spec by its schema and name. Tools, tool choice and reasoning
  settings are fields of the request's ``features`` and count like any other field.

Anything else raises ``TypeError`` naming the type: falling back to ``repr`` would make
keys depend on memory addresses or ``__repr__`` whims and silently stop hitting.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

import attrs

from patchwire.output import OutputSpec
from patchwire.parts import Media

__all__ = ["cache_key"]

# Bumped whenever the canonical form changes, so a shared (Redis) cache never answers
# with an entry written under different rules.
_SCHEME = "patchwire-cache-v1"

# Values whose key is their ``cache_form()``: media by content hash (never their bytes),
# an output spec by its schema (its Python type is not JSON).
_BY_FORM = (Media, OutputSpec)

# One encoder for every key: json.dumps with options builds a new one per call, which
# was half the cost of a key.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True)

_Canonical = None | bool | int | float | str | list["_Canonical"] | dict[str, "_Canonical"]


def cache_key(connector: str, model: str | None, operation: str, payload: object) -> str:
    """The cache key for one request: 64 lowercase hex digits."""
    material = [_SCHEME, connector, model, operation, _canonical(payload)]
    text = _ENCODER.encode(material)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def _canonical(value: object) -> _Canonical:
    # bool before int: bool is an int subclass but must stay distinct from 0 and 1.
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        # An integral float becomes the int it equals, so 1.0 and 1 write the same text.
        return int(value) if value.is_integer() else float(value)
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    if isinstance(value, Mapping):
        return _canonical_mapping(value)
    if attrs.has(type(value)):
        if isinstance(value, _BY_FORM):
            return _canonical(value.cache_form())
        return _canonical_mapping(attrs.asdict(value, recurse=False))  # type: ignore[arg-type]
    raise TypeError(f"cannot build a cache key from a value of type {type(value).__qualname__}")


def _canonical_mapping(mapping: Mapping[object, object]) -> dict[str, _Canonical]:
    out: dict[str, _Canonical] = {}
    for key, item in mapping.items():
        name = _canonical_dict_key(key)
        if name in out:
            raise TypeError(f"cannot build a cache key: dict keys collide as {name!r}")
        out[name] = _canonical(item)
    return out


def _canonical_dict_key(key: object) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, int) and not isinstance(key, bool):
        return str(int(key))
    raise TypeError(f"cannot build a cache key from a dict key of type {type(key).__qualname__}")
