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

The canonical tree, json-encoded (``_encoded``), defines a key's text; for speed the text is
written straight from the payload (``_written``), which tests/cache/test_cachekey_fast.py
holds to the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import json.encoder
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar, cast

import attrs

from patchwire.output import OutputSpec
from patchwire.parts import Media
from patchwire.types import Message

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
    try:
        text = _written(connector, model, operation, payload)
    except Exception:
        # A shape the writer does not take (an int dict key, a set, a connector that is
        # not a str): the general path decides, and raises what it raises.
        text = _encoded(connector, model, operation, payload)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def _encoded(connector: str, model: str | None, operation: str, payload: object) -> str:
    """The general path, and the definition of a key's text: the canonical tree, encoded."""
    material = [_SCHEME, connector, model, operation, _canonical(payload)]
    return "".join(_ENCODE(material, 0)) if _ENCODE is not None else _ENCODER.encode(material)


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


# The fast path: the text _encoded gives, written straight from the payload. Building
# the canonical tree and then encoding it visits every node twice, and the C encoder
# lists, sorts and wraps each dict at more than it costs to write it here (issue 19:
# 2.4 µs of a 5.7 µs key was the tree, 2.4 µs the encoder). Compact JSON is
# compositional (a value's text inside a larger value is its text alone), so a type's
# writer need only write what the encoder writes for that type's canonical form; a type
# without a writer of its own has its canonical form encoded (_write_canonical).

_Writer = Callable[[Any], str]
_K = TypeVar("_K")
_V = TypeVar("_V")

# The function the encoder escapes every str with, so strings come out the same.
_ESCAPE: Callable[[str], str] = json.encoder.encode_basestring_ascii
_OPEN = "[" + _ESCAPE(_SCHEME) + ","
# float.__repr__ spells these "nan", "inf", "-inf"; json spells them as below.
_NONFINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def _written(connector: str, model: str | None, operation: str, payload: object) -> str:
    head = _HEADS.get((connector, model, operation))
    if head is None:
        head = _head(connector, model, operation)
    return head + _WRITERS[type(payload)](payload) + "]"


# (connector, model, operation) -> the text before the payload: a process keys few of
# them (its routes and operations) again and again.
_HEADS: dict[tuple[str, str | None, str], str] = {}


def _head(connector: str, model: str | None, operation: str) -> str:
    model_text = "null" if model is None else _ESCAPE(model)
    head = f"{_OPEN}{_ESCAPE(connector)},{model_text},{_ESCAPE(operation)},"
    return _remember(_HEADS, (connector, model, operation), head)


def _write_canonical(value: object) -> str:
    tree = _canonical(value)
    return "".join(_ENCODE(tree, 0)) if _ENCODE is not None else _ENCODER.encode(tree)


def _write_none(_: None) -> str:
    return "null"


def _write_bool(value: bool) -> str:
    return "true" if value else "false"


def _write_float(value: float) -> str:
    if value.is_integer():
        return repr(int(value))
    text = repr(value)
    return _NONFINITE.get(text, text)


def _write_dict(mapping: dict[Any, Any]) -> str:
    if len(mapping) == 2:  # a chat message as a dict, written without sorting
        content, role = mapping.get("content"), mapping.get("role")
        if content.__class__ is str and role.__class__ is str:
            return '{"content":' + _ESCAPE(content) + ',"role":' + _ESCAPE(role) + "}"
    if not mapping:
        return "{}"
    order = tuple(mapping)
    layout = _LAYOUTS.get(order)
    if layout is None:
        layout = _layout(order)
        if layout is None:
            return _write_canonical(mapping)
    pieces = []
    for head, name in layout:
        item = mapping[name]
        pieces.append(head + _WRITERS[type(item)](item))
    return "".join(pieces) + "}"


_Layout = tuple[tuple[str, str], ...]

# A dict's keys, in the order it holds them -> its keys sorted, each with the text that
# goes before its value. Requests repeat a few key sets (params, tool schemas), and
# sorting and escaping them was a third of writing a dict.
_LAYOUTS: dict[tuple[Any, ...], _Layout] = {}


def _layout(order: tuple[Any, ...]) -> _Layout | None:
    """The layout of a dict with these keys; None unless all are str, as an int key is
    written as its decimal text and sorts as that text, not as a number."""
    if any(name.__class__ is not str for name in order):
        return None
    return _remember(_LAYOUTS, order, _sorted_layout(order))


def _sorted_layout(names: Iterable[str]) -> _Layout:
    """Names sorted, each with the text before its value: ``{"name":``, then ``,"name":``."""
    ordered = sorted(names)
    heads = [
        ("{" if index == 0 else ",") + _ESCAPE(name) + ":" for index, name in enumerate(ordered)
    ]
    return tuple(zip(heads, ordered, strict=True))


_MEMO_MAX = 512


def _remember(memo: dict[_K, _V], key: _K, value: _V) -> _V:
    """Store in a memo that is emptied when full, so keys that never recur (user dict
    keys, principals' scopes) cannot grow it without bound."""
    if len(memo) >= _MEMO_MAX:
        memo.clear()
    memo[key] = value
    return value


def _write_sequence(items: list[Any] | tuple[Any, ...]) -> str:
    if items and items[0].__class__ is str:  # stop sequences, embedding inputs
        try:
            return "[" + ",".join(map(_ESCAPE, items)) + "]"
        except TypeError:  # not all strings after all
            pass
    pieces = []
    for item in items:
        pieces.append(_WRITERS[type(item)](item))
    return "[" + ",".join(pieces) + "]"


def _write_form(value: Media | OutputSpec) -> str:
    form = value.cache_form()
    return _WRITERS[type(form)](form)


def _fields_writer(kind: type[attrs.AttrsInstance]) -> _Writer:
    """A writer for an attrs class: its fields as a dict, each name's text made once."""
    fields = _sorted_layout(field.name for field in attrs.fields(kind))
    if not fields:
        return lambda _: "{}"

    def write(value: object) -> str:
        pieces = []
        for head, name in fields:
            item = getattr(value, name)
            pieces.append(head + _WRITERS[type(item)](item))
        return "".join(pieces) + "}"

    return write


def _write_message(message: Message) -> str:
    # Messages are most of a completion request, so theirs is spelled out.
    content = message.content
    text = _ESCAPE(content) if content.__class__ is str else _WRITERS[type(content)](content)
    return '{"content":' + text + ',"role":' + _ESCAPE(message.role) + "}"


# Types _canonical_other takes before it asks whether a value is an attrs instance.
_BEFORE_ATTRS = (bool, str, int, float, list, tuple, Mapping)


class _Writers(dict[type, _Writer]):
    """Writer by exact type; a type met the first time gets the one _canonical implies."""

    def __missing__(self, kind: type) -> _Writer:
        writer: _Writer
        if issubclass(kind, _BEFORE_ATTRS) or not attrs.has(kind):
            writer = _write_canonical  # str and int subclasses, Mappings, or refused
        elif issubclass(kind, _BY_FORM):
            writer = _write_form
        else:
            writer = _fields_writer(kind)
        self[kind] = writer
        return writer


_WRITERS = _Writers(
    {
        str: _ESCAPE,
        int: repr,  # for an exact int (or float) repr is its __repr__, and calls faster
        float: _write_float,
        bool: _write_bool,
        type(None): _write_none,
        dict: _write_dict,
        list: _write_sequence,
        tuple: _write_sequence,
    }
)
# Only while a Message is these two fields: a new field must reach the key.
if tuple(sorted(field.name for field in attrs.fields(Message))) == ("content", "role"):
    _WRITERS[Message] = _write_message
