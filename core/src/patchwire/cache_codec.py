"""A data-only encoding for values kept in a shared cache store (Redis and the like).

Whoever can write to a shared store chooses the bytes every reader decodes, so decoding
must never run code: no pickle, no class named by the data. An entry is JSON with a small
set of tags, and the only classes it can produce are ``tuple``, ``dict``, ``bytes`` and
the allowlist: the attrs value types listed in :data:`VALUE_TYPES` and the attrs classes
their fields' annotations name (``Completion.parts`` brings in ``Text``, ``ToolCall``,
``Reasoning``...). Nothing in the data can name another class::

    None, true/false, numbers, strings, lists   as themselves
    {"k": v, ...}                               a dict with string keys, none of them "$"
    {"$": "tuple", "v": [...]}                  a tuple
    {"$": "dict", "v": [[k, v], ...]}           any other dict (int or tuple keys, a "$" key)
    {"$": "bytes", "v": "<base64>"}             bytes
    {"$": "f64", "v": "<base64>"}               a long tuple of floats (an embedding), as
                                                little-endian IEEE doubles: exact, and many
                                                times faster than writing each as text
    {"$": "Completion", "text": ..., ...}       an allowlisted attrs value, every init field

Decoding refuses (:class:`CacheEntryRefused`) anything else: an unknown tag, a field the
class does not have, a field value of the wrong type (each field is checked against its
annotation), a value the class's own validators reject, bytes that are not this format.
A shared backend treats a refused entry as a miss. Encoding refuses
(:class:`CacheEncodeError`) a value of a type that is not allowlisted, so a backend skips
storing it rather than writing something no reader could load.

``decode(encode(v)) == v`` for every value built from these types, with the exact types
kept: tuples stay tuples, ints stay ints (however large), floats keep every bit (NaN and
the infinities included; the stdlib encoder writes them as ``NaN``/``Infinity``), and
strings keep lone surrogates (``ensure_ascii`` escapes them).

**Adding a value type**: a type that a listed type's field already names (a new content
part in the ``Part`` union, say) needs nothing; a new top-level cached type is appended
to :data:`VALUE_TYPES` below, the one place. Field annotations must be ones
:func:`_checker` knows (builtins, ``bytes``, ``X | None``, ``Literal``,
``tuple``/``Sequence``/``list``, ``Mapping``/``dict``, ``Any``, attrs classes);
registration fails at import with the class, field and annotation named otherwise. The
property test in ``tests/cache/test_cache_codec.py`` generates values of every allowlisted
type from the same annotations, so a new type is covered without a new test.
"""

from __future__ import annotations

import array
import base64
import binascii
import collections.abc
import json
import sys
import types
import typing
from collections.abc import Callable, Iterable
from typing import Any, Final

import attrs

from patchwire.types import (
    Completion,
    Embedding,
    EmbeddingBatch,
    Message,
    StreamChunk,
    ToolResult,
    Usage,
)

__all__ = [
    "FORMAT",
    "VALUE_TYPES",
    "CacheEncodeError",
    "CacheEntryRefused",
    "ValueCodec",
    "decode",
    "encode",
]

#: The attrs value types a shared cache may hold, with every attrs class their fields
#: name: the allowlist. Add a new top-level cached type here.
VALUE_TYPES: Final[tuple[type, ...]] = (
    Usage,
    Message,
    Completion,
    StreamChunk,
    Embedding,
    EmbeddingBatch,
    ToolResult,
)

#: Every entry starts with this; anything else (a pickle starts with 0x80) is refused
#: before it is parsed. Bumped when the encoding changes.
FORMAT: Final = b"patchwire-cache-json-1\n"

_TAG: Final = "$"
_BUILTIN_TAGS: Final = frozenset({"tuple", "dict", "bytes", "f64"})
# Shorter float tuples stay readable JSON; the binary form pays off on vectors.
_F64_MIN: Final = 16
_JUST_FLOAT: Final = {float}
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True, allow_nan=True)

Check = Callable[[object], bool]


class CacheEntryRefused(Exception):
    """Stored bytes that are not an entry this codec wrote: treat as a cache miss.

    The message says why in a few words and quotes at most a short, repr'd snippet of
    what was found (never a whole value).
    """


class CacheEncodeError(TypeError):
    """A value this codec cannot store (its type is not allowlisted)."""


@attrs.frozen
class _Field:
    name: str  # the __init__ argument (attrs' alias), also the key in the entry
    attribute: str
    check: Check


@attrs.frozen
class _ValueType:
    cls: type
    tag: str
    fields: tuple[_Field, ...]
    names: frozenset[str]


class ValueCodec:
    """Encodes and decodes values made of the allowlisted attrs ``value_types``."""

    def __init__(self, value_types: Iterable[type]) -> None:
        self._by_type: dict[type, _ValueType] = {}
        self._by_tag: dict[str, _ValueType] = {}
        self._registering: set[type] = set()
        for cls in value_types:
            self._register(cls)

    @property
    def value_types(self) -> tuple[type, ...]:
        """The allowlist: the listed classes and every attrs class their fields reach."""
        return tuple(self._by_type)

    def _register(self, cls: type) -> None:
        if cls in self._by_type or cls in self._registering:
            return
        if not attrs.has(cls):
            raise TypeError(f"cache codec: {cls.__qualname__} is not an attrs class")
        tag = cls.__name__
        if tag in self._by_tag or tag in _BUILTIN_TAGS:
            raise TypeError(f"cache codec: two value types are named {tag!r}; rename one")
        # Marked first, so a class whose fields reach back to it does not recurse forever.
        self._registering.add(cls)
        hints = typing.get_type_hints(cls)
        fields = []
        for field in attrs.fields(cls):
            if not field.init:
                continue  # computed by the class itself (a digest, say)
            try:
                check = _checker(hints[field.name], self._register)
            except TypeError as err:
                raise TypeError(
                    f"cache codec: {cls.__qualname__}.{field.name}: {err}; extend"
                    " patchwire.cache_codec._checker or change the annotation"
                ) from None
            fields.append(_Field(field.alias or field.name, field.name, check))
        spec = _ValueType(cls, tag, tuple(fields), frozenset(f.name for f in fields))
        self._registering.discard(cls)
        self._by_type[cls] = spec
        self._by_tag[tag] = spec

    # -- encoding ---------------------------------------------------------------------------

    def encode(self, value: object) -> bytes:
        """``value`` as bytes; :class:`CacheEncodeError` when it holds a type not allowlisted."""
        try:
            text = _ENCODER.encode(self._data(value))
        except (ValueError, RecursionError) as err:
            # An int past Python's digit limit, or nesting deeper than the stack.
            raise CacheEncodeError(f"value cannot be written ({type(err).__name__})") from None
        return FORMAT + text.encode("ascii")

    def _data(self, value: object) -> object:
        kind = type(value)
        # Exact types: a subclass (an IntEnum, a str subclass) would come back as its base.
        if value is None or kind is str or kind is int or kind is float or kind is bool:
            return value
        if kind is list:
            return [self._data(item) for item in value]  # type: ignore[attr-defined]
        if kind is tuple:
            if len(value) >= _F64_MIN and set(map(type, value)) == _JUST_FLOAT:  # type: ignore[arg-type, call-overload]
                return {_TAG: "f64", "v": _pack_floats(value)}  # type: ignore[arg-type]
            return {_TAG: "tuple", "v": [self._data(item) for item in value]}  # type: ignore[attr-defined]
        # dict tested first: the ABC check is several times slower, and dicts are common.
        if kind is dict or isinstance(value, collections.abc.Mapping):
            mapping = typing.cast("collections.abc.Mapping[object, object]", value)
            if _TAG not in mapping and all(type(k) is str for k in mapping):
                return {k: self._data(v) for k, v in mapping.items()}
            pairs = [[self._data(k), self._data(v)] for k, v in mapping.items()]
            return {_TAG: "dict", "v": pairs}
        if kind is bytes:
            return {_TAG: "bytes", "v": base64.b64encode(value).decode("ascii")}  # type: ignore[arg-type]
        spec = self._by_type.get(kind)
        if spec is None:
            raise CacheEncodeError(
                f"a {kind.__module__}.{kind.__qualname__} cannot go in a shared cache: only"
                " patchwire's value types and plain data can (add an attrs value type to"
                " patchwire.cache_codec.VALUE_TYPES)"
            )
        out: dict[str, object] = {_TAG: spec.tag}
        for field in spec.fields:
            out[field.name] = self._data(getattr(value, field.attribute))
        return out

    # -- decoding ---------------------------------------------------------------------------

    def decode(self, data: bytes) -> object:
        """The value in ``data``, or :class:`CacheEntryRefused` when it is not one."""
        if not data.startswith(FORMAT):
            raise CacheEntryRefused(f"not a patchwire cache entry (starts {bytes(data[:8])!r})")
        try:
            text = bytes(data[len(FORMAT) :]).decode("ascii")
            return json.loads(text, object_hook=self._object)
        except CacheEntryRefused:
            raise
        except (ValueError, RecursionError) as err:
            # JSONDecodeError and UnicodeDecodeError are ValueErrors.
            raise CacheEntryRefused(f"malformed entry ({type(err).__name__})") from None

    def _object(self, obj: dict[str, Any]) -> object:
        if _TAG not in obj:
            return obj
        tag = obj[_TAG]
        if not isinstance(tag, str):
            raise CacheEntryRefused("a type tag that is not a string")
        if tag in _BUILTIN_TAGS:
            return _builtin(tag, obj)
        spec = self._by_tag.get(tag)
        if spec is None:
            raise CacheEntryRefused(f"type {tag[:40]!r} is not an allowed cache value type")
        return _construct(spec, obj)


def _builtin(tag: str, obj: dict[str, Any]) -> object:
    if obj.keys() != {_TAG, "v"}:
        raise CacheEntryRefused(f"a {tag} entry with keys other than '$' and 'v'")
    body = obj["v"]
    if tag in ("bytes", "f64"):
        if not isinstance(body, str):
            raise CacheEntryRefused(f"{tag} not written as base64 text")
        try:
            raw = base64.b64decode(body.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            raise CacheEntryRefused(f"{tag} not written as base64 text") from None
        return raw if tag == "bytes" else _unpack_floats(raw)
    if not isinstance(body, list):
        raise CacheEntryRefused(f"a {tag} whose body is not a list")
    if tag == "tuple":
        return tuple(body)
    out: dict[object, object] = {}
    for pair in body:
        if not isinstance(pair, list) or len(pair) != 2:
            raise CacheEntryRefused("a dict item that is not a [key, value] pair")
        key, item = pair
        try:
            out[key] = item
        except TypeError:
            raise CacheEntryRefused("a dict key that cannot be a key") from None
    return out


def _pack_floats(values: tuple[float, ...]) -> str:
    packed = array.array("d", values)
    if sys.byteorder == "big":
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode("ascii")


def _unpack_floats(raw: bytes) -> tuple[float, ...]:
    if len(raw) % 8:
        raise CacheEntryRefused("f64 data whose length is not a multiple of 8")
    packed = array.array("d")
    packed.frombytes(raw)
    if sys.byteorder == "big":
        packed.byteswap()
    return tuple(packed)


def _construct(spec: _ValueType, obj: dict[str, Any]) -> object:
    extra = obj.keys() - spec.names - {_TAG}
    if extra:
        raise CacheEntryRefused(f"{spec.tag} has no field {sorted(extra)[0][:40]!r}")
    kwargs: dict[str, object] = {}
    for field in spec.fields:
        if field.name not in obj:
            continue  # the class's default applies, or construction refuses below
        value = obj[field.name]
        if not field.check(value):
            raise CacheEntryRefused(
                f"{spec.tag}.{field.name} holds a {type(value).__name__}, not what it declares"
            )
        kwargs[field.name] = value
    try:
        return spec.cls(**kwargs)
    except (TypeError, ValueError) as err:
        # A missing field without a default, or the class's own validator said no.
        raise CacheEntryRefused(f"{spec.tag} refused its fields ({type(err).__name__})") from None


# -- annotations as checks ------------------------------------------------------------------


def _checker(hint: object, reach: Callable[[type], None]) -> Check:
    """A predicate for values of annotation ``hint``, as decoded values come out (so a
    ``Mapping`` is a dict and a ``Sequence`` a list or tuple); TypeError for an
    annotation it does not know, so a new value type fails at import, not in production.
    ``reach(cls)`` is called for every attrs class the annotation names."""
    if hint is Any or hint is object:
        return _anything
    if hint is None or hint is type(None):
        return _is_none
    if hint is bool:
        return _is_bool
    if hint is int:
        return _is_int
    if hint is float:
        # int is acceptable where float is declared (PEP 484's numeric tower)
        return _is_number
    if hint is str or hint is bytes:
        exact = hint
        return lambda v: type(v) is exact
    if isinstance(hint, type) and attrs.has(hint):
        reach(hint)
        cls = hint
        return lambda v: type(v) is cls
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Literal:
        allowed = args
        return lambda v: any(type(v) is type(a) and v == a for a in allowed)
    if origin is typing.Union or origin is types.UnionType:
        options = tuple(_checker(a, reach) for a in args)
        return lambda v: any(check(v) for check in options)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            each = _checker(args[0], reach)
            return lambda v: type(v) is tuple and all(each(i) for i in v)
        fixed = tuple(_checker(a, reach) for a in args)
        return lambda v: (
            type(v) is tuple
            and len(v) == len(fixed)
            and all(c(i) for c, i in zip(fixed, v, strict=True))
        )
    if origin in (list, collections.abc.Sequence):
        each = _checker(args[0], reach) if args else _anything
        kinds = (list,) if origin is list else (list, tuple)
        return lambda v: type(v) in kinds and all(each(i) for i in v)  # type: ignore[attr-defined]
    if origin in (dict, collections.abc.Mapping):
        key_ok = _checker(args[0], reach) if args else _anything
        value_ok = _checker(args[1], reach) if args else _anything
        return lambda v: type(v) is dict and all(key_ok(k) and value_ok(i) for k, i in v.items())
    raise TypeError(f"annotation {hint!r} is not one the cache codec can check")


def _anything(_value: object) -> bool:
    return True


def _is_none(value: object) -> bool:
    return value is None


def _is_bool(value: object) -> bool:
    return type(value) is bool


def _is_int(value: object) -> bool:
    return type(value) is int


def _is_number(value: object) -> bool:
    return type(value) is float or type(value) is int


_CODEC = ValueCodec(VALUE_TYPES)

#: Encode a cacheable value for a shared store (see :meth:`ValueCodec.encode`).
encode = _CODEC.encode
#: Decode a shared store's bytes; :class:`CacheEntryRefused` for anything else.
decode = _CODEC.decode
