"""The cache key covers parts (by content hash), tools, tool choice, output schema and reasoning."""

from __future__ import annotations

from typing import Any

import attrs
import hypothesis.strategies as st
from hypothesis import given, settings
from patchwire import cachekey
from patchwire.cachekey import cache_key
from patchwire.output import OutputSpec
from patchwire.parts import Document, Image, Reasoning, ToolCall, ToolResultPart
from patchwire.tools import ToolSpec
from patchwire.types import CompletionRequest, Message, RequestFeatures

_json = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
)
_schemas = st.dictionaries(
    st.sampled_from(["a", "b", "c"]),
    st.sampled_from([{"type": "string"}, {"type": "integer"}, {"enum": [1, 2]}]),
    max_size=3,
).map(lambda props: {"type": "object", "properties": props, "required": sorted(props)})
_images = st.binary(min_size=1, max_size=16).map(lambda b: Image.from_bytes(b, "image/png"))
_parts = st.one_of(
    st.text(max_size=5),
    _images,
    st.binary(min_size=1, max_size=16).map(lambda b: Document.from_bytes(b)),
    st.builds(
        ToolCall,
        st.text(max_size=3),
        st.just("f"),
        st.dictionaries(st.text(max_size=2), _json, max_size=2),
    ),
    st.builds(
        ToolResultPart, st.text(max_size=3), st.text(max_size=5), st.just("f"), st.booleans()
    ),
    st.builds(Reasoning, st.text(max_size=5), st.booleans(), st.none() | st.text(max_size=5)),
)
_tools = st.builds(ToolSpec, st.sampled_from(["f", "g", "h"]), st.text(max_size=5), _schemas)


@st.composite
def _requests(draw: st.DrawFn) -> CompletionRequest:
    messages = tuple(
        Message("user", draw(st.lists(_parts, min_size=1, max_size=3)))
        for _ in range(draw(st.integers(1, 2)))
    )
    tools = tuple({t.name: t for t in draw(st.lists(_tools, max_size=2))}.values())
    features = RequestFeatures(
        tools=tools,
        tool_choice=draw(st.none() | st.sampled_from(["auto", "none", "required"])),
        output=draw(st.none() | _schemas.map(OutputSpec)),
        reasoning=draw(st.none() | st.sampled_from(["low", "high"]) | st.integers(0, 9)),
    )
    return CompletionRequest("m", messages, features=features)


# Every field varied: text or part content, params with floats (NaN, integral), an
# idempotency key, parallel tool calls; features or None.
_any_requests = st.builds(
    CompletionRequest,
    st.text(max_size=5),
    st.lists(
        st.builds(
            Message,
            st.sampled_from(["system", "user", "assistant", "tool"]),
            st.text(max_size=8) | st.lists(_parts, min_size=1, max_size=3),
        ),
        min_size=1,
        max_size=3,
    ).map(tuple),
    params=st.dictionaries(st.text(max_size=4), _json | st.floats(), max_size=4),
    idempotency_key=st.none() | st.text(max_size=4),
    features=st.none()
    | st.builds(
        RequestFeatures,
        tools=st.lists(_tools, max_size=2).map(tuple),
        tool_choice=st.none() | st.sampled_from(["auto", "f"]),
        parallel_tool_calls=st.none() | st.booleans(),
        output=st.none() | _schemas.map(OutputSpec),
        reasoning=st.none() | st.sampled_from(["low", "high"]) | st.integers(0, 9),
    ),
)


@settings(max_examples=300, deadline=None)
@given(request=_any_requests)
def test_the_key_writer_writes_the_general_paths_text_for_rich_requests(
    request: CompletionRequest,
) -> None:
    """Invariant: cachekey._written (the fast path) gives the very text of cachekey._encoded
    (the canonical tree, json-encoded) for requests with parts, tools and schemas."""
    assert cachekey._written("c", "m", "complete", request) == cachekey._encoded(
        "c", "m", "complete", request
    )


def _with(request: CompletionRequest, **changes: Any) -> CompletionRequest:
    features = request.features or RequestFeatures()
    return attrs.evolve(request, features=attrs.evolve(features, **changes))


def _key(request: CompletionRequest) -> str:
    return cache_key("c", "m", "complete", request)


def _reordered(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reordered(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reordered(v) for v in value]
    return value


@settings(max_examples=200, deadline=None)
@given(request=_requests())
def test_the_cache_key_does_not_change_with_dict_ordering(request: CompletionRequest) -> None:
    shuffled = _with(
        request,
        tools=tuple(
            attrs.evolve(t, parameters=_reordered(dict(t.parameters))) for t in request.tools
        ),
        output=None
        if request.output is None
        else OutputSpec(_reordered(dict(request.output.schema)), request.output.name),
    )
    assert _key(shuffled) == _key(request)


@settings(max_examples=200, deadline=None)
@given(a=_requests(), b=_requests())
def test_the_cache_key_changes_with_any_part_tool_or_schema_change(
    a: CompletionRequest, b: CompletionRequest
) -> None:
    same = (
        a.messages == b.messages
        and a.tools == b.tools
        and a.tool_choice == b.tool_choice
        and a.output == b.output
        and a.reasoning == b.reasoning
    )
    assert (_key(a) == _key(b)) == same


def test_images_count_by_content_hash_not_by_bytes_in_the_key() -> None:
    one = CompletionRequest("m", (Message("user", ["x", Image.from_bytes(b"1", "image/png")]),))
    two = CompletionRequest("m", (Message("user", ["x", Image.from_bytes(b"2", "image/png")]),))
    again = CompletionRequest("m", (Message("user", ["x", Image.from_bytes(b"1", "image/png")]),))
    assert _key(one) != _key(two)
    assert _key(one) == _key(again)


def test_an_output_type_keys_by_its_schema() -> None:
    @attrs.frozen
    class Answer:
        value: int

    from patchwire.output import as_output

    spec = as_output(Answer)
    request = CompletionRequest("m", (Message("user", "q"),), features=RequestFeatures(output=spec))
    same = RequestFeatures(output=OutputSpec(dict(spec.schema), "Answer"))
    same_schema = CompletionRequest("m", (Message("user", "q"),), features=same)
    assert _key(request) == _key(same_schema)


def _mutations(request: CompletionRequest, which: int, extra: bytes) -> CompletionRequest:
    """One small change to one of the request's parts, tools, schema or settings."""
    first = request.messages[0]
    if which == 0:  # one more image whose bytes differ from all others by a marker
        image = Image.from_bytes(b"\x00mut" + extra, "image/png")
        return attrs.evolve(
            request, messages=(Message("user", [*first.content, image]), *request.messages[1:])
        )
    if which == 1:
        tool = ToolSpec("zz_new", "d", {"type": "object", "properties": {}})
        return _with(request, tools=(*request.tools, tool))
    if which == 2:
        schema = dict(request.output.schema) if request.output else {"type": "object"}
        schema["description"] = "changed" + extra.hex()
        return _with(request, output=OutputSpec(schema))
    if which == 3:
        choice = "required" if request.tool_choice != "required" else "none"
        return _with(request, tool_choice=choice)
    reasoning = "medium" if request.reasoning != "medium" else 7
    return _with(request, reasoning=reasoning)


@settings(max_examples=300, deadline=None)
@given(request=_requests(), which=st.integers(0, 4), extra=st.binary(max_size=4))
def test_the_cache_key_changes_with_any_single_part_tool_schema_or_setting_change(
    request: CompletionRequest, which: int, extra: bytes
) -> None:
    assert _key(_mutations(request, which, extra)) != _key(request)
