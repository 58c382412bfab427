"""cache_key: equal requests share a key, and any output-affecting change moves it."""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Iterator
from typing import Any

import attrs
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from patchwire.cachekey import cache_key

Path = tuple[Any, ...]

leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
)
trees = st.recursive(
    leaves,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=12,
)
payloads = st.dictionaries(st.text(max_size=6), trees, min_size=1, max_size=6)


def leaf_paths(value: Any, path: Path = ()) -> Iterator[Path]:
    """Paths to every scalar and every empty container (replacing either is a change)."""
    if isinstance(value, dict) and value:
        for key, item in value.items():
            yield from leaf_paths(item, (*path, key))
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            yield from leaf_paths(item, (*path, index))
    else:
        yield path


def get_at(value: Any, path: Path) -> Any:
    for step in path:
        value = value[step]
    return value


def replace_at(value: Any, path: Path, new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {k: replace_at(v, rest, new) if k == head else v for k, v in value.items()}
    return [replace_at(v, rest, new) if i == head else v for i, v in enumerate(value)]


def same_leaf(a: Any, b: Any) -> bool:
    """The equivalence cache_key promises for scalars: numbers by value, bools apart."""

    def tag(x: Any) -> str:
        if isinstance(x, bool):
            return "bool"
        if isinstance(x, int | float):
            return "number"
        return type(x).__name__

    return tag(a) == tag(b) and a == b


def shuffled(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: shuffled(v, rng) for k, v in items}
    if isinstance(value, list):
        return [shuffled(v, rng) for v in value]
    return value


def as_tuples(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: as_tuples(v) for k, v in value.items()}
    if isinstance(value, list):
        return tuple(as_tuples(v) for v in value)
    return value


@settings(max_examples=120, deadline=None)
@given(payload=payloads, data=st.data())
def test_changing_any_one_leaf_changes_the_key(
    payload: dict[str, Any], data: st.DataObject
) -> None:
    """Invariant: replacing one leaf with a non-equivalent value gives a different key."""
    paths = list(leaf_paths(payload))
    path = data.draw(st.sampled_from(paths))
    new = data.draw(leaves)
    assume(not same_leaf(get_at(payload, path), new))
    changed = replace_at(payload, path, new)
    assert cache_key("c", "m", "complete", changed) != cache_key("c", "m", "complete", payload)


@settings(max_examples=60, deadline=None)
@given(payload=payloads, data=st.data())
def test_dropping_any_entry_changes_the_key(payload: dict[str, Any], data: st.DataObject) -> None:
    """Invariant: a payload missing a parameter never shares the full payload's key."""
    name = data.draw(st.sampled_from(sorted(payload)))
    smaller = {k: v for k, v in payload.items() if k != name}
    assert cache_key("c", "m", "complete", smaller) != cache_key("c", "m", "complete", payload)


@settings(max_examples=80, deadline=None)
@given(payload=payloads, seed=st.integers())
def test_dict_key_order_never_matters(payload: dict[str, Any], seed: int) -> None:
    """Invariant: reordering the keys of every dict, at every depth, keeps the key."""
    reordered = shuffled(payload, random.Random(seed))
    assert cache_key("c", "m", "embed", reordered) == cache_key("c", "m", "embed", payload)


@settings(max_examples=50, deadline=None)
@given(payload=payloads)
def test_tuples_and_lists_are_the_same_sequence(payload: dict[str, Any]) -> None:
    """Invariant: turning every list into a tuple keeps the key."""
    assert cache_key("c", None, "complete", as_tuples(payload)) == cache_key(
        "c", None, "complete", payload
    )


@settings(max_examples=200, deadline=None)
@given(number=st.integers(min_value=-(2**60), max_value=2**60))
def test_an_integral_float_shares_the_key_of_its_int(number: int) -> None:
    """Invariant: temperature=n and temperature=float(n) mean the same, so share a key."""
    assume(float(number) == number)
    assert cache_key("c", "m", "complete", {"temperature": number}) == cache_key(
        "c", "m", "complete", {"temperature": float(number)}
    )


def test_negative_zero_and_zero_share_a_key() -> None:
    assert cache_key("c", "m", "complete", {"t": -0.0}) == cache_key("c", "m", "complete", {"t": 0})


def test_booleans_stay_apart_from_zero_and_one() -> None:
    keys = {cache_key("c", "m", "complete", {"x": v}) for v in (True, 1, False, 0)}
    assert len(keys) == 4


@pytest.mark.parametrize(
    "other",
    [
        ("d", "m", "complete"),
        ("c", "n", "complete"),
        ("c", None, "complete"),
        ("c", "None", "complete"),
        ("c", "m", "embed"),
        ("c", "m", "tool:complete"),
    ],
)
def test_connector_model_and_operation_are_part_of_the_key(
    other: tuple[str, str | None, str],
) -> None:
    assert cache_key(*other, {"a": 1}) != cache_key("c", "m", "complete", {"a": 1})


def test_fields_cannot_bleed_into_each_other() -> None:
    """A separator inside a name must not make two different requests look alike."""
    assert cache_key("a:b", "c", "complete", None) != cache_key("a", "b:c", "complete", None)


@attrs.frozen
class Params:
    temperature: float
    stop: tuple[str, ...]
    extra: dict[str, object] = attrs.field(factory=dict)


@attrs.frozen
class Request:
    model: str
    params: Params


def test_attrs_instances_key_like_their_asdict() -> None:
    request = Request("m", Params(0.5, ("\n",), {"seed": 7}))
    as_dict = {"model": "m", "params": {"temperature": 0.5, "stop": ["\n"], "extra": {"seed": 7}}}
    assert cache_key("c", "m", "complete", request) == cache_key("c", "m", "complete", as_dict)
    changed = Request("m", Params(0.5, ("\n",), {"seed": 8}))
    assert cache_key("c", "m", "complete", changed) != cache_key("c", "m", "complete", request)


def test_int_dict_keys_are_written_as_they_reach_the_wire() -> None:
    """logit_bias-style maps: {50256: -100} is sent as {"50256": -100}."""
    assert cache_key("c", "m", "complete", {"logit_bias": {50256: -100}}) == cache_key(
        "c", "m", "complete", {"logit_bias": {"50256": -100}}
    )


def test_dict_keys_that_collide_are_refused() -> None:
    with pytest.raises(TypeError, match="collide"):
        cache_key("c", "m", "complete", {1: "a", "1": "b"})


class Opaque:
    pass


@pytest.mark.parametrize(
    ("payload", "type_name"),
    [
        ({"a": {1, 2}}, "set"),
        ({"a": b"bytes"}, "bytes"),
        ({"a": Opaque()}, "Opaque"),
        ([frozenset()], "frozenset"),
        ({(1, 2): "tuple key"}, "tuple"),
        ({True: "bool key"}, "bool"),
    ],
)
def test_values_without_a_canonical_form_raise_naming_the_type(
    payload: object, type_name: str
) -> None:
    with pytest.raises(TypeError, match=rf"\b{type_name}\b"):
        cache_key("c", "m", "complete", payload)


def test_key_is_sha256_hex_and_stable_across_releases() -> None:
    """A shared cache outlives deploys: the canonical form must not drift unnoticed."""
    key = cache_key("openai", "gpt-4o-mini", "complete", {"temperature": 0, "stop": ["x"]})
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    written = (
        '["patchwire-cache-v1","openai","gpt-4o-mini","complete",{"stop":["x"],"temperature":0}]'
    )
    assert key == hashlib.sha256(written.encode()).hexdigest()
