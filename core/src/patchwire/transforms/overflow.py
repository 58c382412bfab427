"""Context overflow: recognising it, and the two ways out (a larger window, a shorter
conversation).

Recognised per provider from what its error says (WIRE.md's error bodies):

- OpenAI (and compatible servers): ``code`` ``context_length_exceeded``, "This model's
  maximum context length is N tokens";
- Anthropic: a 400 ``invalid_request_error`` "prompt is too long: N tokens > M maximum";
- Gemini: a 400 ``INVALID_ARGUMENT`` "The input token count (N) exceeds the maximum number
  of tokens allowed (M)".

One rule serves both sides: a provider plugin's classifier passes its classification
through :func:`mark_context_overflow`, which sets ``code = "context_length_exceeded"`` when
the message says so (the provider's own code, when it had another, moves to ``details``),
and :func:`is_context_overflow` recognises the code, or the same message for a classifier
that does not mark it.

Trimming keeps every system message and the latest turns, and drops whole *units*
oldest first: a unit is a message, except that an assistant message with tool calls and
the messages holding their results are one unit, so a call is never separated from its
result (``tests/transforms/test_trim_props.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Final

import attrs

from patchwire.classification import Classification
from patchwire.errors import Category, PatchwireError
from patchwire.parts import ToolCall, ToolResultPart
from patchwire.types import Message

__all__ = [
    "CONTEXT_LENGTH_EXCEEDED",
    "TRIMMED_NOTE",
    "is_context_overflow",
    "mark_context_overflow",
    "says_context_overflow",
    "trim_messages",
    "units",
    "window_from_message",
]

CONTEXT_LENGTH_EXCEEDED: Final = "context_length_exceeded"
#: put before the kept turns when trimming left an assistant message first
TRIMMED_NOTE: Final = "[Earlier turns of this conversation were removed to fit the context window.]"

_MESSAGES: Final = (
    re.compile(r"maximum context length is (\d+) tokens", re.I),  # OpenAI
    re.compile(r"prompt is too long: \d+ tokens > (\d+) maximum", re.I),  # Anthropic
    re.compile(
        r"input token count \(\d+\) exceeds the maximum number of tokens allowed \((\d+)\)", re.I
    ),  # Gemini
)
_PHRASES: Final = ("context length", "context window", "prompt is too long", "input token count")


def says_context_overflow(message: str) -> bool:
    """Whether a provider's error message says the input does not fit the context window."""
    text = message.lower()
    return any(p.search(message) for p in _MESSAGES) or (
        "exceed" in text and any(phrase in text for phrase in _PHRASES)
    )


def is_context_overflow(error: PatchwireError) -> bool:
    """Whether ``error`` says the request does not fit the model's context window."""
    if error.category is not Category.INVALID_REQUEST:
        return False
    return error.code == CONTEXT_LENGTH_EXCEEDED or says_context_overflow(error.message)


def mark_context_overflow(classification: Classification) -> Classification:
    """``classification`` with ``code = "context_length_exceeded"`` when it is an invalid
    request whose message says the input exceeds the context window; a provider code it
    replaces is kept in ``details`` ("provider code: ...")."""
    if classification.category is not Category.INVALID_REQUEST:
        return classification
    code = classification.code
    if code == CONTEXT_LENGTH_EXCEEDED or not says_context_overflow(classification.message):
        return classification
    details = classification.details
    if code:
        details = f"provider code: {code}" + (f"; {details}" if details else "")
    return attrs.evolve(classification, code=CONTEXT_LENGTH_EXCEEDED, details=details)


def window_from_message(error: PatchwireError) -> int | None:
    """The window the provider's message states, when it states one."""
    for pattern in _MESSAGES:
        found = pattern.search(error.message)
        if found:
            return int(found.group(1))
    return None


def _call_ids(message: Message) -> set[str]:
    if isinstance(message.content, str):
        return set()
    return {p.id for p in message.content if isinstance(p, ToolCall)}


def _result_ids(message: Message) -> set[str]:
    if isinstance(message.content, str):
        return set()
    return {p.call_id for p in message.content if isinstance(p, ToolResultPart)}


def units(messages: Sequence[Message]) -> list[list[int]]:
    """The non-system messages' indexes in droppable units (a tool call with its results)."""
    out: list[list[int]] = []
    pending: set[str] = set()
    for index, message in enumerate(messages):
        if message.role == "system":
            continue
        answered = _result_ids(message)
        if pending and answered & pending and out:
            out[-1].append(index)
            pending -= answered
        else:
            out.append([index])
            pending = set()
        pending |= _call_ids(message)
    return out


def trim_messages(
    messages: Sequence[Message], fits: Callable[[Sequence[Message]], bool]
) -> tuple[Message, ...] | None:
    """The messages with the oldest units dropped until ``fits`` says yes.

    Every system message stays, and so does the latest unit; None when even that does
    not fit (or nothing could be dropped), so trimming cannot help.
    """
    groups = units(messages)
    system = [i for i, m in enumerate(messages) if m.role == "system"]
    for start in range(1, len(groups)):
        kept = sorted(system + [i for group in groups[start:] for i in group])
        trimmed = [messages[i] for i in kept]
        first = next((i for i, m in enumerate(trimmed) if m.role != "system"), None)
        if first is not None and trimmed[first].role != "user":
            trimmed.insert(first, Message("user", TRIMMED_NOTE))
        if fits(trimmed):
            return tuple(trimmed)
    return None
