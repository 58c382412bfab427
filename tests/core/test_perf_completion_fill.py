"""types.completion builds a Completion by filling a twin's slots and assigning its class
(issue 19: the frozen __init__ set each of fourteen fields through a setattr call). The
result must be a Completion in every way: equal, hashed, printed, pickled, copied and
frozen like the one Completion(...) builds, with each field in its place."""

from __future__ import annotations

import inspect
import pickle
import weakref
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from patchwire.parts import Reasoning, Text, ToolCall
from patchwire.types import Completion, StreamChunk, Usage, completion


def test_its_parameters_are_completions_fields_in_order() -> None:
    """A field added to Completion must be added to completion() too, in its place."""
    names = list(inspect.signature(completion).parameters)
    assert names == [f.name for f in attrs.fields(Completion)]


def _values(text: str, tokens: int, latency: float, cost: float | None) -> tuple[Any, ...]:
    parts = (Text(text), ToolCall("c1", "lookup", {"q": text}), Reasoning("because"))
    return (
        text,
        Usage(tokens, tokens + 1),
        "model-x",
        "conn-y",
        "tool_calls",
        "req-z",
        False,
        3,
        latency,
        cost,
        {"id": "raw"},
        parts,
        {"parsed": tokens},
        ("fallback",),
    )


@given(
    text=st.text(max_size=20),
    tokens=st.integers(0, 10**6),
    latency=st.floats(0, 100, allow_nan=False),
    cost=st.none() | st.floats(0, 10, allow_nan=False),
)
def test_a_filled_completion_is_the_built_one(
    text: str, tokens: int, latency: float, cost: float | None
) -> None:
    values = _values(text, tokens, latency, cost)
    filled, built = completion(*values), Completion(*values)
    assert type(filled) is Completion
    assert filled == built and repr(filled) == repr(built)
    assert attrs.astuple(filled, recurse=False) == values  # each field in its place
    assert (filled.tool_calls, filled.reasoning, filled.message) == (
        built.tool_calls,
        built.reasoning,
        built.message,
    )
    assert pickle.loads(pickle.dumps(filled)) == built
    assert attrs.evolve(filled, cached=True) == attrs.evolve(built, cached=True)


def test_a_filled_completion_is_frozen_hashable_and_weakly_referenced() -> None:
    values = list(_values("hi", 1, 0.5, None))
    values[10] = None  # raw: a dict would make both unhashable alike
    values[12] = None  # parsed
    filled = completion(*values)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        filled.text = "changed"  # type: ignore[misc]
    assert hash(filled) == hash(Completion(*values))
    assert weakref.ref(filled)() is filled


def test_stream_chunks_still_take_weak_references_and_pickle() -> None:
    chunk = StreamChunk("delta", usage=Usage(1, 2), finish_reason="stop")
    assert weakref.ref(chunk)() is chunk
    assert pickle.loads(pickle.dumps(chunk)) == chunk
    assert "__weakref__" not in Completion.__slots__  # inherited from the shared base
