"""Issue 19: the reply's token counts are checked inline (no helper call per count), and
plain_text is a loop rather than all() over a generator. Both must answer as the plain
rules they replaced, for any value a server could send and any list of messages."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.parts import Text
from patchwire.prices import tier_name
from patchwire.types import CompletionRequest, Message, Usage
from patchwire_openai.connector import _usage
from patchwire_openai.request import plain_text


def _count(value: Any) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


def reference_usage(data: Any, tier: Any = None) -> Usage:
    """The rule as it read before: a helper per count."""
    if not isinstance(data, dict):
        return Usage()
    prompt = data.get("prompt_tokens_details")
    completion = data.get("completion_tokens_details")
    return Usage(
        input_tokens=_count(data.get("prompt_tokens")),
        output_tokens=_count(data.get("completion_tokens")),
        cached_input_tokens=_count(prompt.get("cached_tokens")) if isinstance(prompt, dict) else 0,
        reasoning_tokens=_count(completion.get("reasoning_tokens"))
        if isinstance(completion, dict)
        else 0,
        service_tier=tier_name(tier),
    )


# What JSON can hold in a count's place, and a few Python values a caller might pass.
counts = st.one_of(
    st.integers(-3, 10**12),
    st.booleans(),
    st.floats(allow_nan=True),
    st.text(max_size=3),
    st.none(),
    st.lists(st.integers(), max_size=2),
)
details = st.one_of(
    st.none(),
    st.integers(),
    st.fixed_dictionaries({}, optional={"cached_tokens": counts, "reasoning_tokens": counts}),
)
usage_bodies = st.one_of(
    st.none(),
    st.lists(st.integers(), max_size=2),
    st.fixed_dictionaries(
        {},
        optional={
            "prompt_tokens": counts,
            "completion_tokens": counts,
            "prompt_tokens_details": details,
            "completion_tokens_details": details,
        },
    ),
)


@settings(max_examples=400, deadline=None)
@given(data=usage_bodies, tier=st.one_of(st.none(), st.sampled_from(["default", "flex", "X"])))
def test_usage_counts_follow_the_helpers_rule(data: Any, tier: Any) -> None:
    got, want = _usage(data, tier), reference_usage(data, tier)
    assert got == want
    # The same objects, not just equal ones (True stays True, not 1).
    for name in ("input_tokens", "output_tokens", "cached_input_tokens", "reasoning_tokens"):
        assert type(getattr(got, name)) is type(getattr(want, name)), name


class Shout(str):
    """A str subclass: not plain text (its class is not str)."""


messages = st.lists(
    st.builds(
        Message,
        st.sampled_from(["user", "assistant", "system", "tool"]),
        st.one_of(st.text(max_size=5), st.text(max_size=5).map(lambda t: (Text(t),))),
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=300, deadline=None)
@given(chosen=messages, shout=st.booleans())
def test_plain_text_is_the_all_rule(chosen: list[Message], shout: bool) -> None:
    if shout:  # a str subclass content, set past the converter as a plugin could
        object.__setattr__(chosen[0], "content", Shout("hi"))
    request = CompletionRequest("gpt-4o-mini", tuple(chosen))
    want = all(m.content.__class__ is str and m.role != "tool" for m in request.messages)
    assert plain_text(request) is want
