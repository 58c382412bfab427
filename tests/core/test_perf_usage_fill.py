"""types.usage builds a Usage by filling a twin's slots and assigning its class (issue 19:
the frozen __init__ set each of eight fields through a setattr call, on every reply). The
result must be a Usage in every way: equal, hashed, printed, pickled, copied and frozen
like the one Usage(...) builds, with each field in its place."""

from __future__ import annotations

import copy
import inspect
import pickle
import weakref

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from patchwire.types import Completion, Usage, usage

counts = st.integers(0, 10**9)


def test_its_parameters_are_usages_fields_in_order() -> None:
    """A field added to Usage must be added to usage() too, in its place."""
    names = list(inspect.signature(usage).parameters)
    assert names == [f.name for f in attrs.fields(Usage)]


def test_usage_takes_its_weak_reference_slot_from_the_shared_base() -> None:
    # Its own slots must come first for the twin's __class__ assignment to be allowed.
    assert "__weakref__" not in Usage.__slots__
    built = Usage()
    assert weakref.ref(built)() is built
    filled = usage(1, 2, 0, 0, 0, 0, 0, None)
    assert weakref.ref(filled)() is filled


@given(
    values=st.tuples(
        counts, counts, counts, counts, counts, counts, counts, st.none() | st.text(max_size=12)
    )
)
def test_a_filled_usage_is_the_built_one(
    values: tuple[int, int, int, int, int, int, int, str | None],
) -> None:
    filled, built = usage(*values), Usage(*values)
    assert type(filled) is Usage
    assert filled == built and repr(filled) == repr(built)
    assert hash(filled) == hash(built)
    assert attrs.astuple(filled) == values  # each field in its place
    assert filled.total_tokens == built.total_tokens
    assert pickle.loads(pickle.dumps(filled)) == built
    assert copy.copy(filled) == built and copy.deepcopy(filled) == built
    assert attrs.evolve(filled, output_tokens=5) == attrs.evolve(built, output_tokens=5)
    assert attrs.asdict(filled) == attrs.asdict(built)


def test_a_filled_usage_is_frozen_and_fits_in_a_completion() -> None:
    filled = usage(3, 4, 1, 0, 2, 0, 1, "flex")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        filled.input_tokens = 9  # type: ignore[misc]
    with pytest.raises(AttributeError):
        filled.extra = 1  # type: ignore[attr-defined]
    assert Completion("hi", usage=filled) == Completion(
        "hi", usage=Usage(3, 4, 1, 0, 2, 0, 1, "flex")
    )


def test_it_skips_nothing_init_would_run() -> None:
    """usage() runs no converter or validator: a field that gains one must be handled there."""
    assert all(f.converter is None and f.validator is None for f in attrs.fields(Usage))
    assert not hasattr(Usage, "__attrs_post_init__")


def test_each_field_lands_in_its_own_slot() -> None:
    """A distinct value per field: a builder that stored two fields in each other's slots
    would fill a Usage unequal to the one __init__ builds."""
    values = (1, 2, 3, 4, 5, 6, 7, "tier")
    filled = usage(*values)
    assert attrs.astuple(filled) == values
    assert filled == Usage(*values)
    assert [getattr(filled, f.name) for f in attrs.fields(Usage)] == list(values)
