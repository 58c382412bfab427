"""reported_limits builds a RateLimitInfo by storing its slots instead of the frozen
__init__'s setattr call per field (issue 19: a connector builds one from every reply that
carries rate-limit headers). Invariant: what it builds is the RateLimitInfo the class call
builds from the same six values, in every way a caller can look at one."""

from __future__ import annotations

import copy
import inspect
import pickle
import weakref

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from patchwire.limiter import RateLimitInfo
from patchwire.limiter.adaptive import reported_limits

_VALUE = st.none() | st.floats(allow_nan=False) | st.integers(-5, 10**9)


def test_its_parameters_follow_the_fields_in_order() -> None:
    # its stores are written out in that order: a reordered field would swap two values
    fields = [field.name for field in attrs.fields(RateLimitInfo)]
    assert list(inspect.signature(reported_limits).parameters) == fields
    assert len(fields) == 6


@given(st.tuples(_VALUE, _VALUE, _VALUE, _VALUE, _VALUE, _VALUE))
def test_it_builds_what_the_class_builds(values: tuple[float | None, ...]) -> None:
    built = reported_limits(*values)
    called = RateLimitInfo(*values)
    assert type(built) is RateLimitInfo
    assert built == called and hash(built) == hash(called) and repr(built) == repr(called)
    assert attrs.astuple(built) == values
    assert pickle.loads(pickle.dumps(built)) == called
    assert copy.copy(built) == copy.deepcopy(built) == called
    assert attrs.evolve(built, tokens_reset=1.0) == attrs.evolve(called, tokens_reset=1.0)


def test_it_is_frozen_and_can_be_weakly_referenced() -> None:
    built = reported_limits(1.0, 2.0, 3.0, None, None, None)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        built.requests_limit = 5.0  # type: ignore[misc]
    assert weakref.ref(built)() is built
    called = RateLimitInfo()
    assert weakref.ref(called)() is called
