"""Prompt and reply content for observers that asked for it: off unless one is registered.

Call-lifecycle events never carry content, because every sink (logs, metrics, dead
letters) receives them. A tracing exporter whose application opted in to recording
content (patchwire-otel's ``record_content``) registers a :class:`ContentObserver`
instead; the pipeline then hands it the messages of each completion it starts and the
reply it returns, by call id, in the calling task, before the call's end event. With no
observer registered the pipeline builds nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from patchwire.types import Completion, Message

__all__ = ["ContentObserver", "observe_content", "observers"]


class ContentObserver(Protocol):
    """Receives content; must not block or raise (an error is logged and dropped).

    ``redact`` masks every credential the hub loaded or protected in a text: apply it to
    whatever the observer records, since an application may paste a key into a prompt.
    """

    def prompt(
        self, call_id: int, messages: Sequence[Message], redact: Callable[[str], str]
    ) -> None: ...

    def reply(self, call_id: int, reply: Completion, redact: Callable[[str], str]) -> None: ...


_OBSERVERS: list[ContentObserver] = []


def observe_content(observer: ContentObserver) -> Callable[[], None]:
    """Register ``observer`` process-wide; returns the function that removes it."""
    _OBSERVERS.append(observer)

    def remove() -> None:
        if observer in _OBSERVERS:
            _OBSERVERS.remove(observer)

    return remove


def observers() -> tuple[ContentObserver, ...]:
    return tuple(_OBSERVERS)
