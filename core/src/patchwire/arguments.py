"""Checks on what the application passes to ``Model``/``Tool`` methods, before anything is sent.

A wrong argument is the caller's mistake, so it is an :class:`InvalidArgument`: an
``invalid_request`` :class:`~patchwire.errors.PatchwireError` like every other failure,
and also a ``TypeError``/``ValueError`` so code written against the bare exceptions keeps
working. Each message names the argument and says what is accepted. Values are described
by type, never echoed: a prompt or a key may be sensitive.

Only what is clearly wrong is refused here; the shape of message content (text or a
sequence of parts) is the message type's to check.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from patchwire.errors import InvalidRequestError
from patchwire.types import Message, as_messages, user_prompt

__all__ = [
    "InvalidArgument",
    "check_embed_text",
    "check_embed_texts",
    "check_options",
    "check_operation",
    "check_prompt",
    "check_window",
]

_ROLES = ("system", "user", "assistant", "tool")
_MAX_PRIORITY = 1_000_000_000
_PROMPT = "a string, a Message, or a non-empty list of Messages or {'role', 'content'} mappings"


class InvalidArgument(InvalidRequestError, TypeError, ValueError):
    """A call's argument is not one the method accepts; nothing was sent."""


def _kind(value: object) -> str:
    return "None" if value is None else type(value).__name__


def _content_ok(content: object) -> bool:
    # Text, or a sequence of parts (the message type checks the parts themselves).
    if isinstance(content, str):
        return True
    return isinstance(content, Sequence) and not isinstance(content, bytes | bytearray)


def check_prompt(prompt: Any) -> tuple[Message, ...]:
    """The prompt as messages, or ``InvalidArgument`` naming what is wrong with it."""
    if type(prompt) is str:  # the common case first, without the union's isinstance
        return user_prompt(prompt)
    if isinstance(prompt, str | Message):
        return as_messages(prompt)
    if not isinstance(prompt, Sequence) or isinstance(prompt, bytes | bytearray):
        raise InvalidArgument(f"prompt must be {_PROMPT}; got {_kind(prompt)}")
    if len(prompt) == 0:
        raise InvalidArgument(f"prompt must be {_PROMPT}; got an empty list")
    for number, item in enumerate(prompt, 1):
        if isinstance(item, Message):
            continue
        where = f"prompt message #{number}"
        if not isinstance(item, Mapping):
            raise InvalidArgument(
                f"{where} must be a Message or a mapping with 'role' and 'content'; got {_kind(item)}"
            )
        role = item.get("role")
        if role not in _ROLES:
            got = "no role" if role is None else f"a role that is not one of them ({_kind(role)})"
            raise InvalidArgument(f"{where}: 'role' must be one of {', '.join(_ROLES)}; got {got}")
        if "content" not in item or item["content"] is None:
            raise InvalidArgument(
                f"{where} has no content; give 'content' as a string or a list of parts"
            )
        if not _content_ok(item["content"]):
            raise InvalidArgument(
                f"{where}: 'content' must be a string or a list of parts; got {_kind(item['content'])}"
            )
    try:
        return as_messages(prompt)
    except (TypeError, ValueError) as exc:
        # A part the message type refused: its message names the part's type, not its data.
        raise InvalidArgument(f"prompt: {exc}") from None


def check_options(priority: Any, timeout: Any, cache: Any, idempotency_key: Any) -> None:
    """The per-call options every method takes."""
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise InvalidArgument(f"priority must be an integer; got {_kind(priority)}")
    if not -_MAX_PRIORITY <= priority <= _MAX_PRIORITY:
        raise InvalidArgument(f"priority must be between -{_MAX_PRIORITY} and {_MAX_PRIORITY}")
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, int | float):
            raise InvalidArgument(
                f"timeout must be a number of seconds > 0, or None for the connector's"
                f" deadline; got {_kind(timeout)}"
            )
        if not 0 < timeout < math.inf:
            raise InvalidArgument(
                f"timeout must be a finite number of seconds > 0, or None; got {timeout!r}"
            )
    if cache is not None and not isinstance(cache, bool):
        raise InvalidArgument(
            f"cache must be True (always), False (never) or None (deterministic requests);"
            f" got {_kind(cache)}"
        )
    if idempotency_key is not None and (
        not isinstance(idempotency_key, str) or not idempotency_key
    ):
        raise InvalidArgument(
            f"idempotency_key must be a non-empty string or None; got {_kind(idempotency_key)}"
        )


def check_embed_text(text: Any) -> str:
    if not isinstance(text, str):
        hint = "; use embed_many for a list" if isinstance(text, list | tuple) else ""
        raise InvalidArgument(f"embed takes one string as text; got {_kind(text)}{hint}")
    return text


def check_embed_texts(texts: Any) -> list[str]:
    """Every item is checked before any is sent, so one bad item sends nothing."""
    if isinstance(texts, str) or not isinstance(texts, Sequence):
        hint = "; use embed for one string" if isinstance(texts, str) else ""
        raise InvalidArgument(f"embed_many takes a list of strings; got {_kind(texts)}{hint}")
    for number, item in enumerate(texts, 1):
        if not isinstance(item, str):
            raise InvalidArgument(
                f"embed_many takes a list of strings; item #{number} is {_kind(item)}"
            )
    return list(texts)


def check_operation(operation: Any) -> str:
    if not isinstance(operation, str) or not operation:
        raise InvalidArgument(
            f"operation must be the non-empty name of one of the tool's operations"
            f" (see tool.list()); got {_kind(operation)}"
        )
    return operation


def check_window(window: Any, shortest: float, longest: float) -> float | None:
    """``hub.metrics(window=...)``: None (running totals) or seconds within what is kept."""
    if window is None:
        return None
    accepted = (
        f"window must be None (running totals) or a number of seconds from {shortest:g}"
        f" to {longest:g} (the longest window this hub keeps)"
    )
    if isinstance(window, bool) or not isinstance(window, int | float):
        raise InvalidArgument(f"{accepted}; got {_kind(window)}")
    if not shortest <= window <= longest:
        raise InvalidArgument(f"{accepted}; got {window!r}")
    return float(window)
