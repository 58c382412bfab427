"""An Anthropic reply (whole or streamed) as patchwire parts.

``stop_reason`` maps onto patchwire's words: ``end_turn`` and ``stop_sequence`` are
``stop``, ``max_tokens`` and ``model_context_window_exceeded`` are ``length``,
``tool_use`` is ``tool_calls``, ``refusal`` is ``refusal``, ``pause_turn`` is ``pause``,
anything else ``other``. Content blocks become parts in order: ``text`` → ``Text``,
``tool_use`` → ``ToolCall`` (``input`` is already an object; ``raw_arguments`` is it as
compact JSON), ``thinking`` → ``Reasoning`` with its signature, ``redacted_thinking`` →
``Reasoning`` with ``encrypted`` set to its data. A call to the forced answer tool (how
``output=`` travels under 2023-06-01) is the answer: its input becomes the reply's text.

Streams: ``content_block_start`` opens a block by ``index``; ``text_delta``,
``input_json_delta`` (``partial_json`` pieces), ``thinking_delta`` and
``signature_delta`` extend it; the assembled parts come with the final chunk. Streamed
argument text that does not parse is a ``ToolArgumentsError`` keeping the text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from patchwire.parts import Part, Reasoning, Text, ToolCall
from patchwire.tools import ToolArgumentsError
from patchwire.types import ToolCallDelta

__all__ = ["BlockAssembler", "Delta", "content_parts", "finish_reason"]

_FINISH: Final = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "refusal",
    "pause_turn": "pause",
}
PROVIDER: Final = "anthropic"


def finish_reason(value: Any, answered_by_tool: bool = False) -> str | None:
    if not isinstance(value, str):
        return None
    if answered_by_tool and value == "tool_use":
        return "stop"  # the forced answer tool: the model answered, it called nothing
    return _FINISH.get(value, "other")


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _tool_call(block: Mapping[str, Any], position: int) -> ToolCall:
    name = _str(block.get("name"))
    arguments = block.get("input", {})
    raw = _compact(arguments)
    if not isinstance(arguments, Mapping):
        raise ToolArgumentsError(
            f"the input of the call to tool {name!r} is a JSON {type(arguments).__name__},"
            " not an object",
            raw,
        )
    return ToolCall(
        _str(block.get("id")) or f"call_{position}", name, arguments, raw, provider=PROVIDER
    )


def _reasoning(block: Mapping[str, Any], model: str) -> Reasoning:
    if block.get("type") == "redacted_thinking":
        return Reasoning(encrypted=_str(block.get("data")), provider=PROVIDER, model=model)
    signature = block.get("signature")
    return Reasoning(
        _str(block.get("thinking")),
        signature=signature if isinstance(signature, str) else None,
        provider=PROVIDER,
        model=model,
    )


def content_parts(
    content: list[Any], model: str, answer_tool: str | None = None
) -> tuple[str, tuple[Part, ...], bool]:
    """(text, parts, answered by the answer tool) of a reply's ``content``.

    ``parts`` is empty for a text-only reply, as ``Completion.parts`` wants it.
    """
    texts: list[str] = []
    parts: list[Part] = []
    rich = False
    answered = False
    for position, block in enumerate(content):
        if not isinstance(block, Mapping):
            continue
        kind = block.get("type")
        if kind == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
            parts.append(Text(block["text"]))
        elif kind == "tool_use" and answer_tool is not None and block.get("name") == answer_tool:
            answer = _compact(block.get("input", {}))
            texts.append(answer)
            parts.append(Text(answer))
            answered = True
        elif kind == "tool_use":
            parts.append(_tool_call(block, position))
            rich = True
        elif kind in ("thinking", "redacted_thinking"):
            parts.append(_reasoning(block, model))
            rich = True
    return "".join(texts), tuple(parts) if rich else (), answered


class Delta:
    """What one stream event added: text, reasoning text, or a tool-call fragment."""

    __slots__ = ("call", "reasoning", "text")

    def __init__(
        self, text: str = "", reasoning: str = "", call: ToolCallDelta | None = None
    ) -> None:
        self.text = text
        self.reasoning = reasoning
        self.call = call


class BlockAssembler:
    """Collects a stream's content blocks by index; ``parts()`` gives the turn.

    Tool calls are numbered in the order they open (``ToolCallDelta.index``), so a
    reply with thinking or text before its calls still counts calls from 0.
    """

    def __init__(self, model: str, answer_tool: str | None = None) -> None:
        self._model = model
        self.answer_tool = answer_tool
        self._blocks: dict[int, dict[str, Any]] = {}
        self._pieces: dict[int, list[str]] = {}
        self._call_numbers: dict[int, int] = {}
        self.answered = False

    def start(self, index: Any, block: Any) -> Delta | None:
        if not isinstance(index, int) or not isinstance(block, Mapping):
            return None
        self._blocks[index] = dict(block)
        self._pieces[index] = []
        if block.get("type") == "text" and _str(block.get("text")):
            self._pieces[index].append(block["text"])
            return Delta(text=block["text"])
        if block.get("type") == "tool_use" and not self._is_answer(block):
            number = self._call_numbers[index] = len(self._call_numbers)
            return Delta(call=ToolCallDelta(number, _str(block.get("id")), _str(block.get("name"))))
        return None

    def _is_answer(self, block: Mapping[str, Any]) -> bool:
        return self.answer_tool is not None and block.get("name") == self.answer_tool

    def delta(self, index: Any, delta: Any) -> Delta | None:
        if not isinstance(delta, Mapping) or index not in self._blocks:
            return None
        block = self._blocks[index]
        kind = delta.get("type")
        if kind == "text_delta":
            piece = _str(delta.get("text"))
            self._pieces[index].append(piece)
            return Delta(text=piece)
        if kind == "input_json_delta":
            piece = _str(delta.get("partial_json"))
            self._pieces[index].append(piece)
            if self._is_answer(block):
                return Delta(text=piece)  # the answer, as it is written
            return Delta(call=ToolCallDelta(self._call_numbers.get(index, 0), arguments=piece))
        if kind == "thinking_delta":
            piece = _str(delta.get("thinking"))
            self._pieces[index].append(piece)
            return Delta(reasoning=piece)
        if kind == "signature_delta":
            block["signature"] = _str(block.get("signature")) + _str(delta.get("signature"))
        return None

    def parts(self) -> tuple[str, tuple[Part, ...]]:
        """(text, parts) of the whole turn, as :func:`content_parts` gives for a whole reply."""
        blocks: list[dict[str, Any]] = []
        for index in sorted(self._blocks):
            block = dict(self._blocks[index])
            joined = "".join(self._pieces[index])
            kind = block.get("type")
            if kind == "text":
                block["text"] = joined
            elif kind == "thinking":
                block["thinking"] = _str(block.get("thinking")) + joined
            elif kind == "tool_use":
                name = _str(block.get("name"))
                if joined.strip():
                    try:
                        block["input"] = json.loads(joined)
                    except ValueError as exc:
                        raise ToolArgumentsError(
                            f"the arguments of the call to tool {name!r} are not valid JSON"
                            f" ({exc})",
                            joined,
                        ) from None
                if not isinstance(block.get("input", {}), Mapping):
                    raise ToolArgumentsError(
                        f"the arguments of the call to tool {name!r} are not a JSON object",
                        joined,
                    )
            blocks.append(block)
        text, parts, answered = content_parts(blocks, self._model, self.answer_tool)
        self.answered = answered
        return text, parts
