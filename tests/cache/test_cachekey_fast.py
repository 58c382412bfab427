"""cache_key's writer writes the text of the general path, byte for byte (patchwire.cachekey).

The general path (``_encoded``: the canonical tree, then json's encoder) defines a key;
the writer (``_written``) is only faster. Keys already stored in shared caches were made
by the general path, so any difference would make them all miss.
"""

from __future__ import annotations

import enum
import hashlib
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire import cachekey
from patchwire.cachekey import cache_key
from patchwire.output import OutputSpec
from patchwire.parts import Image
from patchwire.types import CompletionRequest, EmbeddingRequest, Message, RequestFeatures


class Tier(enum.StrEnum):
    FAST = "fast"


class Level(enum.IntEnum):
    HIGH = 3


@attrs.frozen
class Settings:
    temperature: float
    stop: tuple[str, ...] = ()
    extra: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class Nothing:
    pass


@attrs.frozen
class Headers(Mapping[str, Any]):
    """An attrs class that is also a Mapping: it keys as its items, not its fields."""

    items_: dict[str, Any]

    def __getitem__(self, name: str) -> Any:
        return self.items_[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.items_)

    def __len__(self) -> int:
        return len(self.items_)


leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    # NaN, the infinities, -0.0 and integral floats, which the key writes as ints
    | st.floats()
    | st.integers(-(2**60), 2**60).map(float)
    | st.text(max_size=8)  # non-ASCII and control characters
    | st.sampled_from([Tier.FAST, Level.HIGH])
)
keys = st.text(max_size=5) | st.sampled_from(["content", "role", Tier.FAST])
trees = st.recursive(
    leaves,
    lambda children: (
        st.lists(children, max_size=4)
        | st.lists(children, max_size=4).map(tuple)
        | st.dictionaries(keys, children, max_size=4)
        # int keys (written as decimal text, sorted as it) and mixed int and str keys
        | st.dictionaries(st.integers(-20, 20), children, max_size=3)
        | st.dictionaries(st.integers(0, 3) | st.sampled_from(["0", "x"]), children, max_size=3)
        | st.dictionaries(keys, children, max_size=3).map(OrderedDict)
        # the chat-message shape the writer takes without sorting, and near misses
        | st.fixed_dictionaries(
            {"role": st.text(max_size=4) | children, "content": st.text(max_size=4) | children},
            optional={"name": children, "a": children},
        )
        | st.dictionaries(st.text(max_size=2), children, max_size=2).map(Headers)
        | st.builds(
            Settings, st.floats(), st.lists(st.text(max_size=3), max_size=2).map(tuple), st.just({})
        )
        | st.just(Nothing())
    ),
    max_leaves=16,
)

# Requests with parts, tools and schemas: tests/rich/test_cachekey_rich.py.
payloads = (
    trees
    | st.builds(
        CompletionRequest,
        st.text(max_size=5),
        st.lists(
            st.builds(Message, st.sampled_from(["system", "user"]), st.text(max_size=8)),
            min_size=1,
            max_size=3,
        ).map(tuple),
        params=st.dictionaries(st.sampled_from(["max_tokens", "temperature", "stop"]), trees),
        idempotency_key=st.none() | st.text(max_size=4),
    )
    | st.builds(EmbeddingRequest, st.text(max_size=4), st.lists(st.text(max_size=4)).map(tuple))
)


@settings(max_examples=500, deadline=None)
@given(
    payload=payloads,
    connector=st.text(max_size=6),
    model=st.none() | st.text(max_size=5),
    operation=st.sampled_from(["complete", "stream", "embed", "tool:x"]),
)
def test_the_writer_writes_the_general_paths_text_for_every_payload(
    payload: Any, connector: str, model: str | None, operation: str
) -> None:
    """Invariant: _written(...) == _encoded(...) whenever the general path gives a key, and
    the writer refuses (raises) whatever the general path refuses."""
    assert_writer_agrees(connector, model, operation, payload)


def assert_writer_agrees(connector: str, model: str | None, operation: str, payload: Any) -> None:
    try:
        expected = cachekey._encoded(connector, model, operation, payload)
    except (TypeError, ValueError):
        with pytest.raises((TypeError, ValueError)):
            cachekey._written(connector, model, operation, payload)
        return
    assert cachekey._written(connector, model, operation, payload) == expected


@settings(max_examples=100, deadline=None)
@given(payload=st.dictionaries(st.text(max_size=3), trees, max_size=3))
def test_keys_stay_right_while_the_memos_are_emptied(payload: dict[str, Any]) -> None:
    """Invariant: the bounded memos only save work; emptying them never changes a key."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cachekey, "_MEMO_MAX", 2)
        for model in ("m", "n", "o"):
            assert_writer_agrees("c", model, "complete", payload)


def test_the_common_shapes_are_written_without_the_general_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The speed of a key (issue 19, benchmarks/cache_hit.py) rests on these never
    falling back to building and encoding the canonical tree."""

    def refuse(value: object) -> str:
        raise AssertionError(f"general path for {type(value).__name__}")

    monkeypatch.setattr(cachekey, "_write_canonical", refuse)
    monkeypatch.setattr(cachekey, "_encoded", refuse)
    messages = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Name three prime numbers."},
    ]
    params = {"max_tokens": 50, "temperature": 0.0, "top_p": 0.9, "stop": ["\n\n"], "seed": None}
    request = CompletionRequest(
        "m",
        (
            Message("system", "terse"),
            Message("user", ["what is this?", Image.from_url("https://x/a.png")]),
        ),
        params=params,
        features=RequestFeatures(output=OutputSpec({"type": "object"}), reasoning="low"),
    )
    for payload in ({"messages": messages, "params": params}, request):
        cache_key("c", "m", "complete", payload)


def test_the_benchmark_payloads_keep_their_keys() -> None:
    """The keys of benchmarks/cache_hit.py's payloads, as the general path wrote them
    before the writer existed (patchwire-cache-v1)."""
    messages = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Name three prime numbers."},
    ]
    params = {"max_tokens": 50, "temperature": 0, "stop": ["\n\n"]}
    request = CompletionRequest(
        "gpt-4o-mini",
        (Message("system", "You are terse."), Message("user", "Name three prime numbers.")),
        params=params,
    )
    text = (
        '["patchwire-cache-v1","openai","gpt-4o-mini","complete",{%s"messages":[{"content":'
        '"You are terse.","role":"system"},{"content":"Name three prime numbers.","role":'
        '"user"}],%s"params":{"max_tokens":50,"stop":["\\n\\n"],"temperature":0}}]'
    )
    as_dict = text % ("", "")
    as_request = text % ('"features":null,"idempotency_key":null,', '"model":"gpt-4o-mini",')
    for payload, written in (
        ({"messages": messages, "params": params}, as_dict),
        (request, as_request),
    ):
        assert cache_key("openai", "gpt-4o-mini", "complete", payload) == (
            hashlib.sha256(written.encode("ascii")).hexdigest()
        )
