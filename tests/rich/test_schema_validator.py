"""Core's small JSON Schema validator agrees with ``jsonschema`` on the subset providers accept,
and the simulator's generated instances always validate."""

from __future__ import annotations

import random
from typing import Any

import hypothesis.strategies as st
import jsonschema
from hypothesis import given, settings
from patchwire.schema import validate
from patchwire.testing.sim_schema import instance_for

_leaf_schemas = st.one_of(
    st.just({"type": "string"}),
    st.builds(
        lambda lo, span: {"type": "string", "minLength": lo, "maxLength": lo + span},
        st.integers(0, 3),
        st.integers(0, 5),
    ),
    st.just({"type": "integer"}),
    st.builds(
        lambda lo, span: {"type": "integer", "minimum": lo, "maximum": lo + span},
        st.integers(-5, 5),
        st.integers(0, 10),
    ),
    st.builds(lambda lo: {"type": "number", "exclusiveMinimum": lo}, st.integers(-3, 3)),
    st.just({"type": "boolean"}),
    st.just({"type": "null"}),
    st.just({"type": ["string", "null"]}),
    st.lists(st.one_of(st.text(max_size=3), st.integers(-3, 3)), min_size=1, max_size=4).map(
        lambda values: {"enum": values}
    ),
    st.sampled_from([{"const": "x"}, {"const": 1}, {"const": True}]),
)


def _composite(inner: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    objects = st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=3).flatmap(
        lambda props: st.builds(
            lambda required, closed: {
                "type": "object",
                "properties": props,
                "required": sorted(required),
                "additionalProperties": not closed,
            },
            st.sets(st.sampled_from(sorted(props)), max_size=3) if props else st.just(set()),
            st.booleans(),
        )
    )
    arrays = st.builds(
        lambda items, lo, span: {
            "type": "array",
            "items": items,
            "minItems": lo,
            "maxItems": lo + span,
        },
        inner,
        st.integers(0, 2),
        st.integers(0, 3),
    )
    unions = st.lists(inner, min_size=1, max_size=3).map(lambda options: {"anyOf": options})
    return st.one_of(objects, arrays, unions)


schemas = st.recursive(_leaf_schemas, _composite, max_leaves=6)
values = st.recursive(
    st.none() | st.booleans() | st.integers(-8, 8) | st.floats(-8, 8) | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), inner, max_size=4)
    ),
    max_leaves=8,
)


@settings(max_examples=400, deadline=None)
@given(schema=schemas, value=values)
def test_core_validator_agrees_with_jsonschema_on_the_provider_subset(
    schema: dict[str, Any], value: Any
) -> None:
    ours = validate(schema, value) is None
    theirs = jsonschema.Draft202012Validator(schema).is_valid(value)
    assert ours == theirs, (schema, value, validate(schema, value))


@settings(max_examples=300, deadline=None)
@given(schema=schemas, seed=st.integers(0, 2**32 - 1))
def test_every_simulated_instance_validates_against_its_schema(
    schema: dict[str, Any], seed: int
) -> None:
    value = instance_for(schema, random.Random(seed))
    assert validate(schema, value) is None
    jsonschema.validate(value, schema, cls=jsonschema.Draft202012Validator)


def test_refs_into_defs_resolve() -> None:
    schema = {
        "$defs": {"p": {"type": "object", "properties": {"n": {"type": "integer"}}}},
        "type": "array",
        "items": {"$ref": "#/$defs/p"},
    }
    assert validate(schema, [{"n": 1}]) is None
    assert validate(schema, [{"n": "x"}]) == "$[0].n: expected integer, got string"
