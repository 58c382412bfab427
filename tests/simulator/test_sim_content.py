"""The simulator's content: deterministic replies, token counts and vectors."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.testing.sim_content import count_tokens, embedding_vector, reply_text, stream_pieces


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300), st.one_of(st.none(), st.integers(1, 60)))
def test_reply_is_deterministic_and_within_its_budget(prompt: str, max_tokens: int | None) -> None:
    """Invariant: the same prompt gives the same reply; a budget is respected (but a reply is
    never empty), and ``truncated`` says whether it cut; the stream pieces join to the reply."""
    text, truncated = reply_text(prompt, max_tokens)
    assert (text, truncated) == reply_text(prompt, max_tokens)
    assert text
    if max_tokens is not None and count_tokens(text) > max_tokens:
        assert " " not in text  # only a single word may exceed the budget
    if not truncated:
        assert (text, False) == reply_text(prompt)
    assert "".join(stream_pieces(text)) == text


@settings(max_examples=100, deadline=None)
@given(st.text(min_size=1, max_size=100), st.integers(1, 64))
def test_embedding_is_a_deterministic_unit_vector(text: str, dimensions: int) -> None:
    """Invariant: the vector depends only on (model, text, dimensions) and has norm 1."""
    vector = embedding_vector(text, "m", dimensions)
    assert vector == embedding_vector(text, "m", dimensions)
    assert len(vector) == dimensions
    assert math.isclose(math.sqrt(sum(x * x for x in vector)), 1.0, rel_tol=1e-9)


def test_different_texts_get_different_vectors() -> None:
    assert embedding_vector("a", "m", 16) != embedding_vector("b", "m", 16)
    assert embedding_vector("a", "m", 16) != embedding_vector("a", "n", 16)


def test_tokens_are_about_four_characters() -> None:
    assert count_tokens("") == 0
    assert count_tokens("a") == 1
    assert count_tokens("abcd" * 10) == 10
