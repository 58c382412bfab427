"""A streamed turn is assembled into what the whole reply gives, however Gemini splits it."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.parts import Reasoning, Text, ToolCall
from patchwire_gemini.response import parse_chunk
from patchwire_gemini.turn import TurnAssembler, one_call_only

_NAMES = st.sampled_from(["lookup", "convert", "find_flight"])
_ARGS = st.dictionaries(
    st.sampled_from(["q", "n", "flag"]),
    st.one_of(st.text(max_size=5), st.integers(), st.booleans()),
)
_PART = st.one_of(
    st.builds(lambda n, a: {"functionCall": {"name": n, "args": a}}, _NAMES, _ARGS),
    st.text(min_size=1, max_size=6).map(lambda t: {"text": t}),
    st.text(min_size=1, max_size=6).map(lambda t: {"text": t, "thought": True}),
)


def _event(parts: list[Any], final: bool) -> Any:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if final:
        candidate["finishReason"] = "STOP"
    return {"candidates": [candidate], "responseId": "resp-1"}


@st.composite
def _splits(draw: st.DrawFn) -> tuple[list[Any], list[list[Any]]]:
    parts = draw(st.lists(_PART, min_size=1, max_size=8))
    cuts = sorted(draw(st.sets(st.integers(1, len(parts)), max_size=len(parts))))
    events, start = [], 0
    for cut in [*cuts, len(parts)]:
        if cut > start:
            events.append(parts[start:cut])
            start = cut
    return parts, events


@settings(max_examples=200, deadline=None)
@given(split=_splits(), single=st.booleans())
def test_a_streamed_turn_assembles_to_the_whole_reply_with_the_same_call_ids(
    split: tuple[list[Any], list[list[Any]]], single: bool
) -> None:
    parts, events = split
    whole = parse_chunk(_event(parts, True), model="m")
    expected = one_call_only(whole.parts) if single else whole.parts
    turn = TurnAssembler(single_call=single)
    deltas, texts = [], []
    for number, event in enumerate(events):
        chunk = parse_chunk(
            _event(event, number == len(events) - 1), model="m", call_offset=turn.calls
        )
        piece = turn.add(chunk)
        deltas.extend(piece.tool_call_deltas)
        texts.append(piece.text)
    assembled = turn.parts()
    calls = [p for p in expected if isinstance(p, ToolCall)]
    assert [p for p in assembled if isinstance(p, ToolCall)] == calls
    assert [(d.index, d.id, d.name, d.arguments) for d in deltas] == [
        (i, c.id, c.name, c.raw_arguments) for i, c in enumerate(calls)
    ]
    assert len({c.id for c in calls}) == len(calls)  # distinct, even for equal calls
    assert "".join(texts) == whole.text
    if not whole.parts:  # a text-only turn has no parts, streamed or not
        assert assembled == ()
        return
    assert "".join(p.text for p in assembled if isinstance(p, Text)) == whole.text
    thoughts = "".join(p.text for p in assembled if isinstance(p, Reasoning))
    assert thoughts == "".join(p["text"] for p in parts if p.get("thought"))
