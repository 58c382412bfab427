"""A plain prompt's message is built without Message's role check and content converter
(issue 19); it must be the Message that Message("user", text) builds in every way."""

from __future__ import annotations

import pickle

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from patchwire.arguments import check_prompt
from patchwire.types import Message, as_messages, user_prompt


@given(st.text())
def test_a_plain_prompt_is_the_message_the_class_builds(text: str) -> None:
    plain = Message("user", text)
    for built in (user_prompt(text), check_prompt(text), as_messages(text)):
        (message,) = built
        assert type(message) is Message
        assert message == plain and hash(message) == hash(plain)
        assert repr(message) == repr(plain)
        assert message.role == "user" and message.content is text and message.text == text
        assert pickle.loads(pickle.dumps(message)) == plain
        assert attrs.evolve(message, role="system") == Message("system", text)
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            message.role = "system"  # type: ignore[misc]


def test_a_str_subclass_takes_the_class_path() -> None:
    class Marked(str):
        pass

    (message,) = check_prompt(Marked("hi"))
    assert type(message.content) is Marked and message == Message("user", "hi")
