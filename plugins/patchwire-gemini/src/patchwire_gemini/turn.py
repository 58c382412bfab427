"""A streamed Gemini turn put back together, and the one-call rule Gemini cannot be told.

Gemini streams each ``functionCall`` whole in one event (it never splits arguments), thought
summaries as text parts with ``thought: true``, and may send a thought signature late, on
an empty text part of a later event (WIRE-RICH §4). :class:`TurnAssembler` turns each
event into a :class:`~patchwire.types.StreamChunk` (text, reasoning text, one
:class:`~patchwire.types.ToolCallDelta` per call carrying its whole argument text) and
keeps the turn's parts in order for the final chunk, merging the text pieces so the
assembled turn reads as ``complete()`` would give it.

Gemini has no parallel-call switch, so ``parallel_tool_calls=False`` is enforced here:
:func:`one_call_only` keeps the turn's first call (the one that carries the turn's
signature) and drops the others.
"""

from __future__ import annotations

from collections.abc import Sequence

from patchwire.parts import Part, Reasoning, Text, ToolCall
from patchwire.types import StreamChunk, ToolCallDelta

from patchwire_gemini.response import Chunk

__all__ = ["TurnAssembler", "one_call_only"]


def one_call_only(parts: Sequence[Part]) -> tuple[Part, ...]:
    """``parts`` with every tool call after the first left out."""
    out: list[Part] = []
    seen = False
    for part in parts:
        if isinstance(part, ToolCall):
            if seen:
                continue
            seen = True
        out.append(part)
    return tuple(out)


def _merge(parts: Sequence[Part]) -> tuple[Part, ...]:
    """Adjacent text pieces as one Text, adjacent thought pieces (unsigned so far) as one."""
    out: list[Part] = []
    for part in parts:
        last = out[-1] if out else None
        if isinstance(part, Text) and isinstance(last, Text):
            out[-1] = Text(last.text + part.text)
        elif (
            isinstance(part, Reasoning)
            and part.summary
            and isinstance(last, Reasoning)
            and last.summary
            and last.signature is None
        ):
            out[-1] = Reasoning(
                last.text + part.text,
                True,
                part.signature,
                provider=part.provider,
                model=part.model,
            )
        else:
            out.append(part)
    return tuple(out)


class TurnAssembler:
    """Collects one streamed turn's parts; ``add`` gives the chunk to yield for an event."""

    def __init__(self, *, single_call: bool = False) -> None:
        self._parts: list[Part] = []
        self._single = single_call
        self.calls = 0  # calls seen so far, for stable minted ids

    def add(self, chunk: Chunk) -> StreamChunk:
        deltas: list[ToolCallDelta] = []
        thoughts: list[str] = []
        for part in chunk.parts:
            if isinstance(part, ToolCall):
                self.calls += 1
                if self._single and self.calls > 1:
                    continue
                index = sum(1 for p in self._parts if isinstance(p, ToolCall))
                deltas.append(ToolCallDelta(index, part.id, part.name, part.raw_arguments))
            elif isinstance(part, Reasoning) and part.summary:
                thoughts.append(part.text)
            self._parts.append(part)
        if not chunk.parts and chunk.text:
            self._parts.append(Text(chunk.text))
        return StreamChunk(
            chunk.text, tool_call_deltas=tuple(deltas), reasoning_text="".join(thoughts)
        )

    def parts(self) -> tuple[Part, ...]:
        """The whole turn in order (empty for a turn of plain text only, as ``complete()``)."""
        if all(isinstance(p, Text) for p in self._parts):
            return ()
        return _merge(self._parts)
