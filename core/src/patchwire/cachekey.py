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
import json.encoder
from collections.abc import Callable, Mapping
from typing import Any, cast

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
# ...and JSONEncoder.encode still builds a new C encoder on every call, a quarter of the
# encoding time: this is the same C encoder with the same options, built once. No cycle
# markers: _canonical builds a fresh tree of dicts and lists, which cannot hold a cycle.
# None where the interpreter has no C accelerator; then _ENCODER writes the same text.
_ENCODE: Callable[[object, int], list[str]] | None = (
    json.encoder.c_make_encoder(  # type: ignore[attr-defined]
        None, None, json.encoder.encode_basestring_ascii, None, ":", ",", True, False, True
    )
    if json.encoder.c_make_encoder is not None  # type: ignore[attr-defined]
    else None
)

# attrs class -> its field names, for classes keyed by their fields (not by cache_form)
_FIELDS: dict[type, tuple[str, ...]] = {}

_Canonical = None | bool | int | float | str | list["_Canonical"] | dict[str, "_Canonical"]


def cache_key(connector: str, model: str | None, operation: str, payload: object) -> str:
    """The cache key for one request: 64 lowercase hex digits."""
    material = [_SCHEME, connector, model, operation, _canonical(payload)]
    text = "".join(_ENCODE(material, 0)) if _ENCODE is not None else _ENCODER.encode(material)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def _canonical(value: Any) -> _Canonical:
    # The exact built-in types a request is made of go first, by type rather than through
    # the isinstance chain below (which subclasses, Mappings and attrs classes still take):
    # that was most of a key's cost.
    kind = type(value)
    if kind is str or value is None or kind is bool or kind is int:
        return cast("_Canonical", value)
    if kind is dict:
        return _canonical_mapping(value)
    if kind is tuple or kind is list:
        return [_canonical(item) for item in value]
    if kind is float:
        # An integral float becomes the int it equals, so 1.0 and 1 write the same text.
        return int(value) if value.is_integer() else cast(float, value)
    names = _FIELDS.get(kind)
    if names is not None:
        return _canonical_fields(value, names)
    return _canonical_other(value)


def _canonical_other(value: object) -> _Canonical:
    # bool before int: bool is an int subclass but must stay distinct from 0 and 1.
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return int(value) if value.is_integer() else float(value)
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    if isinstance(value, Mapping):
        return _canonical_mapping(value)
    if attrs.has(type(value)):
        if isinstance(value, _BY_FORM):
            return _canonical(value.cache_form())
        # What attrs.asdict(value, recurse=False) gives, with the field names looked up
        # once per class.
        kind = cast("type[attrs.AttrsInstance]", type(value))
        names = _FIELDS[kind] = tuple(field.name for field in attrs.fields(kind))
        return _canonical_fields(value, names)
    raise TypeError(f"cannot build a cache key from a value of type {type(value).__qualname__}")


def _canonical_fields(value: object, names: tuple[str, ...]) -> dict[str, _Canonical]:
    return {name: _canonical(getattr(value, name)) for name in names}


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
