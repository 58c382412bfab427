"""bill() builds its Bill by filling a twin's slots and assigning its class (issue 19: the
frozen __init__ set each of four fields through a setattr call, on every priced call).
The result must be a Bill in every way: equal, hashed, printed, pickled, copied and frozen
like the one Bill(...) builds, with each field in its place."""

from __future__ import annotations

import copy
import inspect
import pickle
import weakref

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from patchwire.prices import Bill, Price, bill
from patchwire.prices.bill import _filled
from patchwire.types import Usage

charges = st.lists(
    st.tuples(st.sampled_from(["input", "output", "cache_read"]), st.floats(0, 10)), max_size=3
).map(tuple)
missing = st.lists(st.sampled_from(["cache_write_1h", "service_tier:flex"]), max_size=2).map(tuple)


def test_its_parameters_are_bills_fields_in_order() -> None:
    """A field added to Bill must be added to _filled() too, in its place."""
    assert list(inspect.signature(_filled).parameters) == [f.name for f in attrs.fields(Bill)]


def test_it_skips_nothing_init_would_run() -> None:
    assert all(f.converter is None and f.validator is None for f in attrs.fields(Bill))
    assert not hasattr(Bill, "__attrs_post_init__")


@given(charges=charges, missing=missing, savings=st.floats(-1, 1), currency=st.text(max_size=4))
def test_a_filled_bill_is_the_built_one(
    charges: tuple[tuple[str, float], ...], missing: tuple[str, ...], savings: float, currency: str
) -> None:
    values = (charges, missing, savings, currency)
    filled, built = _filled(*values), Bill(*values)
    assert type(filled) is Bill
    assert filled == built and repr(filled) == repr(built) and hash(filled) == hash(built)
    assert attrs.astuple(filled, recurse=False) == values  # each field in its place
    assert (filled.total, filled.cost()) == (built.total, built.cost())
    assert pickle.loads(pickle.dumps(filled)) == built
    assert copy.copy(filled) == built and copy.deepcopy(filled) == built
    assert attrs.evolve(filled, currency="EUR") == attrs.evolve(built, currency="EUR")


def test_a_bill_is_frozen_and_weakly_referenced() -> None:
    made = bill(Price(1.0, 2.0), Usage(1000, 500, service_tier="default"))
    assert made == Bill((("input", 0.001), ("output", 0.001)), (), 0.0, "USD")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        made.currency = "EUR"  # type: ignore[misc]
    assert weakref.ref(made)() is made
    assert "__weakref__" not in Bill.__slots__  # inherited from the shared base
