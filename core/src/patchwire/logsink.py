"""Structured logging of call outcomes and retries.

Records go to the ``patchwire.calls`` logger, which has only a ``NullHandler``: patchwire
is a library and stays quiet until the application configures logging. Each record
carries its fields under ``extra={"patchwire": {...}}`` for JSON formatters, and a
readable message for plain ones. Only named fields of the event are read; ``event.data``
never is, so nothing a connector put there (a header, a token) can reach a log.
"""

from __future__ import annotations

import logging
from typing import Any

from patchwire.events import (
    Event,
    EventKind,
    StartedFields,
    Succeeded,
    SucceededFields,
    call_event,
    takes_fields,
)

__all__ = ["CALLS_LOGGER", "LoggingSink"]

CALLS_LOGGER = "patchwire.calls"

logging.getLogger(CALLS_LOGGER).addHandler(logging.NullHandler())

# Module constants: looking a member up on the enum class is slow enough to matter per event.
_SUCCEEDED = EventKind.CALL_SUCCEEDED
_FAILED = EventKind.CALL_FAILED
_RETRY = EventKind.RETRY_SCHEDULED
_FALLBACK = EventKind.FALLBACK_TAKEN

_LEVELS = {
    EventKind.CALL_SUCCEEDED: logging.DEBUG,
    EventKind.CALL_FAILED: logging.WARNING,
    EventKind.RETRY_SCHEDULED: logging.INFO,
    EventKind.FALLBACK_TAKEN: logging.INFO,
}
_SUCCESS_LEVEL = _LEVELS[_SUCCEEDED]


@takes_fields
class LoggingSink:
    """An event sink writing one record per finished call (succeeded: DEBUG, failed: WARNING),
    per scheduled retry and per fallback taken (INFO): a failure (a timeout, say) that a
    route moves on from is logged like one that is retried, so slow targets show up."""

    __slots__ = ("_logger",)

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._logger = logger if logger is not None else logging.getLogger(CALLS_LOGGER)

    def field_handlers(self) -> tuple[StartedFields | None, SucceededFields]:
        """A call's success as fields (patchwire.events.FieldSink); its start is not logged."""
        return None, self._succeeded_fields

    def _succeeded_fields(self, call: Succeeded) -> None:
        # The level check before anything is built: successes are DEBUG, which applications
        # rarely enable. The Event leaves out ``data``, which this sink never reads.
        if self._logger.isEnabledFor(_SUCCESS_LEVEL):
            self(call_event(_SUCCEEDED, call[:11], {}))

    def __call__(self, event: Event) -> None:
        level = _LEVELS.get(event.kind)
        if level is None or not self._logger.isEnabledFor(level):
            return
        where = event.connector if event.model is None else f"{event.connector}:{event.model}"
        fields: dict[str, Any] = {
            "event": event.kind.value,
            "connector": event.connector,
            "model": event.model,
            "operation": event.operation,
            "call_id": event.call_id,
        }
        if event.kind is _RETRY or event.kind is _FALLBACK:
            # One shape for both ways out of a failed attempt, so a timeout reads the same
            # whether the target is tried again or the route moves on.
            fields.update(attempt=event.attempt, category=event.category, message=event.message)
            if event.kind is _RETRY:
                fields["delay"] = event.duration
                then = f"retrying in {event.duration or 0.0:.3f}s"
            else:
                fields["target"] = event.target
                then = f"falling back to {event.target}"
            self._logger.log(
                level,
                "%s %s attempt %d failed [%s], %s: %s",
                where,
                event.operation,
                event.attempt,
                event.category,
                then,
                event.message or "",
                extra={"patchwire": fields},
            )
            return
        fields.update(
            latency=event.duration,
            retries=event.retries,
            category=event.category,
            input_tokens=event.input_tokens,
            output_tokens=event.output_tokens,
            cost=event.cost,
            cached=event.cached,
        )
        if event.kind is _FAILED:
            fields["message"] = event.message
        if event.kind is _SUCCEEDED:
            self._logger.log(
                level,
                "%s %s succeeded in %.3fs after %d retries (tokens in %s, out %s%s)",
                where,
                event.operation,
                event.duration or 0.0,
                event.retries,
                event.input_tokens,
                event.output_tokens,
                ", cached" if event.cached else "",
                extra={"patchwire": fields},
            )
        else:
            self._logger.log(
                level,
                "%s %s failed [%s] after %d retries in %.3fs: %s",
                where,
                event.operation,
                event.category,
                event.retries,
                event.duration or 0.0,
                event.message or "",
                extra={"patchwire": fields},
            )

    def __repr__(self) -> str:
        return f"LoggingSink(logger={self._logger.name!r})"
