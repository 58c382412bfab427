"""The shared-cache codec: exact round trips for every allowlisted type, refusal of the rest.

Values are generated from the allowlisted classes' own annotations, so a type added to
``patchwire.cache_codec.VALUE_TYPES`` is covered here without a new test.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import json
import math
import pickle
import types
import typing
from typing import Any

import attrs
import patchwire.types
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.cache_codec import (
    FORMAT,
    VALUE_TYPES,
    CacheEncodeError,
    CacheEntryRefused,
    ValueCodec,
    decode,
    encode,
)
from patchwire.secrets import Secret
from patchwire.types import Completion, Embedding, Message, ToolResult, Usage

# Request and option types are what a caller sends, never what a cache holds.
NOT_CACHED = {
    "CallOptions",
    "CompletionRequest",
    "EmbeddingRequest",
    "RequestFeatures",
    "ToolRequest",
}
ALLOWED = ValueCodec(VALUE_TYPES).value_types

# Fields whose classes' validators ask more than the annotation says (values that fail a
# validator anyway are filtered out below, but these keep that rare).
_MEDIA_URL = st.sampled_from(["https://example.test/a.png", "data:text/plain;base64,eA=="])

# -- strategies built from annotations ---------------------------------------------------------

# Lone surrogates included: a tool's output may carry them and must come back unchanged.
_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=20)
_INTS = st.integers(min_value=-(2**200), max_value=2**200)
# NaN is left out only because NaN != NaN; its bits survive (see the f64 test below).
_FLOATS = st.floats(allow_nan=False)
_KEYS = st.one_of(_TEXT, st.just("$"), st.just("v"))
_SCALARS = st.one_of(st.none(), st.booleans(), _INTS, _FLOATS, _TEXT, st.binary(max_size=20))
_PLAIN: st.SearchStrategy[Any] = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(_KEYS, inner, max_size=4),
        # keys that JSON objects cannot carry: ints, tuples, a mix
        st.dictionaries(st.one_of(_INTS, st.tuples(_INTS, _TEXT), _TEXT), inner, max_size=4),
        st.lists(_FLOATS, min_size=16, max_size=40).map(tuple),
    ),
    max_leaves=20,
)


def strategy_for(hint: object) -> st.SearchStrategy[Any]:
    if hint is Any or hint is object:
        return _PLAIN
    if hint is None or hint is type(None):
        return st.none()
    if hint is bool:
        return st.booleans()
    if hint is int:
        return _INTS
    if hint is float:
        return st.one_of(_FLOATS, _INTS)
    if hint is str:
        return _TEXT
    if hint is bytes:
        return st.binary(max_size=20)
    if isinstance(hint, type) and attrs.has(hint):
        return value_of(hint)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Literal:
        return st.sampled_from(args)
    if origin is typing.Union or origin is types.UnionType:
        return st.one_of(*(strategy_for(a) for a in args))
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            # long enough sometimes to take the binary float form
            return st.lists(strategy_for(args[0]), max_size=20).map(tuple)
        return st.tuples(*(strategy_for(a) for a in args))
    if origin in (list, collections.abc.Sequence):
        each = strategy_for(args[0]) if args else _PLAIN
        return st.one_of(st.lists(each, max_size=4), st.lists(each, max_size=4).map(tuple))
    if origin in (dict, collections.abc.Mapping):
        keys = strategy_for(args[0]) if args else _TEXT
        return st.dictionaries(keys, strategy_for(args[1]) if args else _PLAIN, max_size=4)
    raise AssertionError(f"no strategy for {hint!r}: extend strategy_for with the codec")


def value_of(cls: type) -> st.SearchStrategy[Any]:
    hints = typing.get_type_hints(cls)
    fields = {(f.alias or f.name): strategy_for(hints[f.name]) for f in attrs.fields(cls) if f.init}
    kinds = getattr(cls, "kinds", None)
    if kinds and "media_type" in fields:
        fields["media_type"] = st.sampled_from(sorted(kinds))
        fields["url"] = st.none() | _MEDIA_URL
        fields["data"] = st.none() | st.binary(max_size=20)

    def build(**kwargs: Any) -> object:
        try:
            return cls(**kwargs)
        except (TypeError, ValueError):
            return None

    return st.builds(build, **fields).filter(lambda v: v is not None)


def same(a: object, b: object) -> bool:
    """Equal with the same types all the way down, eq=False fields (``raw``) included."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and isinstance(b, float):
        return math.copysign(1.0, a) == math.copysign(1.0, b) and a == b
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if attrs.has(type(a)):
        names = [f.name for f in attrs.fields(type(a))]  # type: ignore[arg-type]
        return all(same(getattr(a, n), getattr(b, n)) for n in names)
    return a == b


# -- round trips -------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", ALLOWED, ids=[c.__name__ for c in ALLOWED])
@settings(max_examples=150)
@given(data=st.data())
def test_decode_of_encode_is_the_value_with_exact_types_for_every_allowlisted_type(
    cls: type, data: st.DataObject
) -> None:
    value = data.draw(value_of(cls))
    out = decode(encode(value))
    assert out == value
    assert same(out, value)


@settings(max_examples=200)
@given(value=_PLAIN)
def test_decode_of_encode_is_the_value_for_plain_data(value: object) -> None:
    assert same(decode(encode(value)), value)


@given(
    entry=st.tuples(value_of(Completion), _INTS, _INTS)
    | st.tuples(st.lists(_FLOATS, max_size=64).map(tuple), _INTS, st.none() | _FLOATS)
    | st.tuples(value_of(ToolResult), _INTS)
)
def test_decode_of_encode_is_the_value_for_what_the_pipeline_caches(entry: object) -> None:
    """The shapes ``Pipeline._cached`` stores: (Completion, index, attempts),
    (vector, tokens, cost) and (ToolResult, attempts)."""
    assert same(decode(encode(entry)), entry)


def test_long_float_tuples_keep_every_bit_nan_and_signed_zero_included() -> None:
    vector = (math.nan, -0.0, math.inf, -math.inf, 5e-324, *([0.1] * 20))
    out = decode(encode(vector))
    assert isinstance(out, tuple)
    assert b'"f64"' in encode(vector)
    assert math.isnan(out[0]) and math.copysign(1.0, out[1]) == -1.0
    assert out[2:] == vector[2:]


def test_every_result_type_in_patchwire_types_is_allowlisted() -> None:
    """A new value type in patchwire.types must reach the allowlist (listed in VALUE_TYPES
    or named by a listed type's field), or be named here as something no cache holds;
    otherwise a shared cache silently stops storing replies holding it."""
    defined = {
        name
        for name, obj in vars(patchwire.types).items()
        if isinstance(obj, type) and attrs.has(obj) and obj.__module__ == "patchwire.types"
    }
    listed = {cls.__name__ for cls in ALLOWED}
    missing = defined - NOT_CACHED - listed
    assert not missing, f"add {sorted(missing)} to patchwire.cache_codec.VALUE_TYPES"


# -- refusals ------------------------------------------------------------------------------------


def _entry(obj: object) -> bytes:
    return FORMAT + json.dumps(obj).encode()


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (pickle.dumps(Usage(1, 2)), "not a patchwire cache entry"),
        (b"", "not a patchwire cache entry"),
        (FORMAT + b"{not json", "malformed"),
        (FORMAT + b"\xff", "malformed"),
        (FORMAT + b"[" * 100_000, "malformed"),
        (_entry({"$": "posix.system", "v": "touch /tmp/x"}), "not an allowed"),
        (_entry({"$": "Secret", "v": "x"}), "not an allowed"),
        (_entry({"$": 7}), "not a string"),
        (_entry({"$": "Usage", "input_tokens": "12"}), "Usage.input_tokens"),
        (_entry({"$": "Usage", "input_tokens": True}), "Usage.input_tokens"),
        (_entry({"$": "Usage", "__class__": 1}), "no field"),
        (_entry({"$": "Message", "role": "root", "content": "x"}), "Message.role"),
        (_entry({"$": "Message", "role": "user"}), "refused its fields"),
        (
            _entry({"$": "Completion", "text": "x", "usage": {"input_tokens": 1}}),
            "Completion.usage",
        ),
        (_entry({"$": "tuple", "v": 1}), "not a list"),
        (_entry({"$": "tuple", "v": [], "x": 1}), "keys other than"),
        (_entry({"$": "dict", "v": [[1]]}), "pair"),
        (_entry({"$": "dict", "v": [[[1], 2]]}), "cannot be a key"),
        (_entry({"$": "bytes", "v": "***"}), "base64"),
        (_entry({"$": "f64", "v": "AAAA"}), "multiple of 8"),
    ],
)
def test_anything_but_an_encoded_value_is_refused(data: bytes, why: str) -> None:
    with pytest.raises(CacheEntryRefused, match=why):
        decode(data)


@settings(max_examples=300)
@given(
    data=st.binary(max_size=64).map(lambda b: FORMAT + b)
    | st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(
                st.sampled_from(["$", "v", "text", "input_tokens", "role", "content"]),
                inner | st.sampled_from([t.__name__ for t in VALUE_TYPES] + ["tuple", "dict"]),
                max_size=4,
            )
        ),
        max_leaves=12,
    ).map(_entry)
)
def test_decoding_any_bytes_gives_a_value_or_a_refusal_never_another_error(data: bytes) -> None:
    try:
        decode(data)
    except CacheEntryRefused:
        pass


@dataclasses.dataclass
class _Foreign:
    x: int


@pytest.mark.parametrize(
    "value",
    [_Foreign(1), {1, 2}, Secret("sk-x", "env:K"), ToolResult(output=_Foreign(2)), 10**5000],
    ids=["dataclass", "set", "secret", "nested", "huge-int"],
)
def test_a_value_of_a_type_not_allowlisted_is_not_encoded(value: object) -> None:
    with pytest.raises(CacheEncodeError):
        encode(value)


def test_a_type_with_an_annotation_the_codec_cannot_check_fails_at_registration() -> None:
    @attrs.frozen
    class Odd:
        when: complex

    with pytest.raises(TypeError, match=r"Odd\.when"):
        ValueCodec([Odd])


def test_a_new_value_type_is_one_entry_in_the_list() -> None:
    @attrs.frozen
    class Citation:
        id: str
        arguments: typing.Mapping[str, Any]
        usage: Usage | None = None

    codec = ValueCodec([*VALUE_TYPES, Citation])
    reply = Completion("x", raw=None)
    value = (
        Citation("c1", {"q": (1, 2)}, Usage(1)),
        reply,
        Embedding((0.5,)),
        Message("user", "x"),
    )
    assert same(codec.decode(codec.encode(value)), value)
    with pytest.raises(CacheEntryRefused, match="Citation"):
        decode(codec.encode(Citation("c1", {})))


def test_a_value_its_class_validators_refuse_is_refused() -> None:
    @attrs.frozen
    class Span:
        start: int
        end: int = attrs.field()

        @end.validator
        def _after(self, _: object, value: int) -> None:
            if value < self.start:
                raise ValueError("end before start")

    codec = ValueCodec([Span])
    assert codec.decode(codec.encode(Span(1, 2))) == Span(1, 2)
    with pytest.raises(CacheEntryRefused, match="Span refused its fields"):
        codec.decode(_entry({"$": "Span", "start": 5, "end": 1}))
