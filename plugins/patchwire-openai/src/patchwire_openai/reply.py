"""An OpenAI chat reply (whole or streamed) as patchwire parts.

``finish_reason`` maps onto patchwire's words: ``stop``, ``length``, ``tool_calls`` (and
the legacy ``function_call``), ``content_filter``; a ``refusal`` in the message (set
instead of content when the model declines a structured answer) makes the finish reason
``refusal`` and the refusal text the reply's text. Tool-call arguments arrive as JSON
text; text that does not parse is a ``ToolArgumentsError`` (category ``integration``)
that keeps it. In a stream, tool-call fragments are keyed by ``index`` (``id`` and
``name`` come only on a call's first fragment) and assembled when the stream ends.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from patchwire.parts import Part, Text, ToolCall
from patchwire.types import ToolCallDelta

__all__ = ["ToolCallAssembler", "finish_reason", "message_parts"]

_FINISH: Final = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}


def finish_reason(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return _FINISH.get(value, "other")


def _call(raw: Mapping[str, Any], fallback_id: str) -> ToolCall:
    function = raw.get("function")
    function = function if isinstance(function, Mapping) else {}
    name = function.get("name")
    arguments = function.get("arguments")
    call_id = raw.get("id")
    return ToolCall.parsed(
        call_id if isinstance(call_id, str) and call_id else fallback_id,
        name if isinstance(name, str) else "",
        arguments if isinstance(arguments, str) else "",
        provider="openai",
    )


def message_parts(message: Mapping[str, Any]) -> tuple[str, tuple[Part, ...], bool]:
    """(text, parts, refused) of a reply's ``message``; parts is empty for text-only replies."""
    content = message.get("content")
    text = content if isinstance(content, str) else ""
    refusal = message.get("refusal")
    refused = isinstance(refusal, str) and bool(refusal) and not text
    if refused:
        text = str(refusal)
    raw_calls = message.get("tool_calls")
    if not raw_calls or not isinstance(raw_calls, list):  # a plain reply: nothing to walk
        return text, (), refused
    calls = [_call(raw, f"call_{i}") for i, raw in enumerate(raw_calls) if isinstance(raw, Mapping)]
    if not calls:
        return text, (), refused
    parts: list[Part] = [Text(text)] if text else []
    parts.extend(calls)
    return text, tuple(parts), refused


class ToolCallAssembler:
    """Collects streamed tool-call fragments by index; ``calls()`` gives the whole calls."""

    def __init__(self) -> None:
        self._ids: dict[int, str] = {}
        self._names: dict[int, str] = {}
        self._arguments: dict[int, list[str]] = {}

    def add(self, fragments: Any) -> tuple[ToolCallDelta, ...]:
        """Record one chunk's ``delta.tool_calls`` and return them as deltas."""
        if not isinstance(fragments, list):
            return ()
        deltas: list[ToolCallDelta] = []
        for position, fragment in enumerate(fragments):
            if not isinstance(fragment, Mapping):
                continue
            index = fragment.get("index", position)
            if not isinstance(index, int):
                continue
            call_id = fragment.get("id")
            function = fragment.get("function")
            function = function if isinstance(function, Mapping) else {}
            name = function.get("name")
            piece = function.get("arguments")
            if isinstance(call_id, str) and call_id:
                self._ids[index] = call_id
            if isinstance(name, str) and name:
                self._names[index] = name
            self._arguments.setdefault(index, [])
            if isinstance(piece, str):
                self._arguments[index].append(piece)
            deltas.append(
                ToolCallDelta(
                    index,
                    call_id if isinstance(call_id, str) else None,
                    name if isinstance(name, str) else None,
                    piece if isinstance(piece, str) else "",
                )
            )
        return tuple(deltas)

    def calls(self) -> tuple[ToolCall, ...]:
        return tuple(
            ToolCall.parsed(
                self._ids.get(index, f"call_{index}"),
                self._names.get(index, ""),
                "".join(self._arguments[index]),
                provider="openai",
            )
            for index in sorted(self._arguments)
        )
