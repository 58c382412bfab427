"""connector.attempt builds an Attempt by storing its slots on a bare instance (issue 19:
the type call into attrs' __init__, with its default and factory checks, on every
attempt). The result must be the Attempt that Attempt(...) builds from the same values:
equal, printed and evolved alike, each field in its place, and still mutable."""

from __future__ import annotations

import inspect
import ssl
from typing import Any

import attrs
from hypothesis import given
from hypothesis import strategies as st
from patchwire.auth.attached import Attached
from patchwire.clock import VirtualClock
from patchwire.connector import Attempt, attempt


def test_its_parameters_are_attempts_fields_in_order() -> None:
    """A field added to Attempt must be added to attempt() too, in its place."""
    names = list(inspect.signature(attempt).parameters)
    assert names == [f.name for f in attrs.fields(Attempt)]


def test_attempt_has_nothing_its_init_would_run_that_the_builder_skips() -> None:
    """The builder stores each value as given: that is all Attempt's __init__ does when
    every field is given, as long as no field validates, converts or hooks a setattr and
    the class has no post-init. Any of those added makes this fail, not the builder drift."""
    assert Attempt.__setattr__ is object.__setattr__
    assert not hasattr(Attempt, "__attrs_post_init__")
    assert not hasattr(Attempt, "__attrs_pre_init__")
    for field in attrs.fields(Attempt):
        assert field.validator is None and field.converter is None, field.name
        assert field.on_setattr is None or field.on_setattr is attrs.setters.NO_OP, field.name


def _values(number: int, deadline: float | None, priority: int, secured: bool) -> tuple[Any, ...]:
    def report(info: object) -> None:
        return None

    return (
        number,
        VirtualClock(start=float(number)),
        object(),  # a session stand-in: the builder never looks at it
        deadline,
        {"authorization": "Bearer x"},
        {"key": "v"},
        ssl.create_default_context() if secured else None,
        priority,
        report,
        Attached(),
    )


@given(
    number=st.integers(1, 10),
    deadline=st.none() | st.floats(0, 1e6, allow_nan=False),
    priority=st.integers(-5, 5),
    secured=st.booleans(),
)
def test_a_filled_attempt_is_the_built_one(
    number: int, deadline: float | None, priority: int, secured: bool
) -> None:
    values = _values(number, deadline, priority, secured)
    filled, built = attempt(*values), Attempt(*values)
    assert type(filled) is Attempt
    assert filled == built and repr(filled) == repr(built)
    assert attrs.astuple(filled, recurse=False) == values  # each field in its place
    assert all(a is b for a, b in zip(attrs.astuple(filled, recurse=False), values, strict=True))
    assert attrs.evolve(filled, number=number + 1) == attrs.evolve(built, number=number + 1)
    assert filled.time_left() == built.time_left()


def test_a_filled_attempt_stays_mutable_like_a_built_one() -> None:
    filled = attempt(*_values(1, 5.0, 0, False))
    filled.headers["x-extra"] = "1"  # the auth layer and connectors add to these
    filled.deadline = 3.0
    assert filled.headers["x-extra"] == "1" and filled.deadline == 3.0
