"""types.completion_request builds a CompletionRequest by filling a twin's slots (issue
19: the frozen __init__ set each field through a setattr call), its params copied as
the converter copies them. The result must be a CompletionRequest in every way."""

from __future__ import annotations

import inspect
import pickle
import weakref
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from patchwire.types import CompletionRequest, Message, RequestFeatures, completion_request

params = st.none() | st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5))


def test_its_parameters_are_the_requests_fields_in_order() -> None:
    names = list(inspect.signature(completion_request).parameters)
    assert names == [f.name for f in attrs.fields(CompletionRequest)]


@given(
    model=st.text(max_size=10),
    text=st.text(max_size=10),
    given_params=params,
    key=st.none() | st.text(max_size=5),
    features=st.none() | st.just(RequestFeatures(tool_choice="auto", reasoning="low")),
)
def test_a_filled_request_is_the_built_one(
    model: str,
    text: str,
    given_params: dict[str, Any] | None,
    key: str | None,
    features: RequestFeatures | None,
) -> None:
    messages = (Message("user", text),)
    filled = completion_request(model, messages, given_params, key, features)
    built = CompletionRequest(model, messages, given_params, key, features)
    assert type(filled) is CompletionRequest
    assert filled == built and repr(filled) == repr(built)
    assert attrs.astuple(filled, recurse=False) == attrs.astuple(built, recurse=False)
    assert (filled.tool_choice, filled.reasoning, filled.has_parts) == (
        built.tool_choice,
        built.reasoning,
        built.has_parts,
    )
    assert type(filled.params) is dict and filled.params is not given_params
    assert pickle.loads(pickle.dumps(filled)) == built
    assert attrs.evolve(filled, model="other") == attrs.evolve(built, model="other")


def test_a_filled_request_is_frozen_and_weakly_referenced() -> None:
    filled = completion_request("m", (), {}, None, None)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        filled.model = "changed"  # type: ignore[misc]
    assert weakref.ref(filled)() is filled
    assert "__weakref__" not in CompletionRequest.__slots__  # inherited from the shared base
