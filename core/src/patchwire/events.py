"""Call-lifecycle events and the bus that fans them out to sinks.

One event type with a ``kind`` keeps emission cheap (one small object per event, no class
lookups) and lets a sink switch on a single field. Events never carry credentials: they are
built from connector and model names, categories, numbers and redacted messages.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Mapping
from typing import Any

import attrs

__all__ = ["Event", "EventBus", "EventKind", "Sink"]

log = logging.getLogger("patchwire.events")


class EventKind(enum.StrEnum):
    CALL_STARTED = "call_started"
    ATTEMPT_FAILED = "attempt_failed"
    RETRY_SCHEDULED = "retry_scheduled"
    THROTTLED = "throttled"  # waited in the limiter queue; ``duration`` is the wait
    LIMITER_REFUSED = "limiter_refused"
    CACHE_HIT = "cache_hit"
    CACHE_MISS = "cache_miss"
    FALLBACK_TAKEN = "fallback_taken"
    CALL_SUCCEEDED = "call_succeeded"
    CALL_FAILED = "call_failed"
    CREDENTIAL_ACQUIRED = "credential_acquired"
    CREDENTIAL_REFRESHED = "credential_refreshed"
    CREDENTIAL_FAILED = "credential_failed"
    SECRET_REREAD = "secret_reread"
    BREAKER_TRANSITION = "breaker_transition"
    QUOTA_REPORTED = "quota_reported"
    BATCH_SENT = "batch_sent"
    PARAM_DROPPED = "param_dropped"  # a sampling knob the connector cannot send; ``data["param"]``
    #: a shared limiter could not settle a finished call's tokens; ``category``, ``message``
    LIMITER_SETTLE_FAILED = "limiter_settle_failed"
    #: a failed request changed and tried again; ``data["transform"]``, ``target``, ``message``
    REQUEST_TRANSFORMED = "request_transformed"
    #: a tool loop (``model.run``) began, in the task that runs it (tracing sinks open a span
    #: that its model and tool calls nest under)
    RUN_STARTED = "run_started"
    #: a tool loop (``model.run``) ended, answered or failed (``category``); ``duration``,
    #: ``data["steps"]`` (model calls), ``data["tool_calls"]`` (tool calls it ran)
    RUN_FINISHED = "run_finished"


@attrs.frozen(slots=True)
class Event:
    """One thing that happened to one call (or to a connector's shared state).

    Fields that do not apply to a kind stay at their defaults. ``time`` is the hub's
    clock reading (monotonic seconds), ``duration`` a measured span (latency for a
    finished call, the wait for a retry or throttle).
    """

    kind: EventKind
    connector: str
    model: str | None = None
    time: float = 0.0
    call_id: int = 0
    operation: str = "complete"
    attempt: int = 0
    category: str | None = None
    duration: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost: float | None = None
    cached: bool = False
    retries: int = 0
    target: str | None = None
    message: str | None = None
    data: Mapping[str, Any] = attrs.field(factory=dict)


Sink = Callable[[Event], None]


class EventBus:
    """Delivers each event to every sink; a sink that raises never breaks the call.

    Its failures are counted per sink name (``sink_failures``) and logged once per sink so
    a broken exporter is visible without flooding the log.
    """

    __slots__ = ("_sinks", "sink_failures")

    def __init__(self) -> None:
        self._sinks: list[tuple[str, Sink]] = []
        self.sink_failures: dict[str, int] = {}

    def add(self, name: str, sink: Sink) -> None:
        self._sinks.append((name, sink))

    def remove(self, name: str) -> None:
        self._sinks = [(n, s) for n, s in self._sinks if n != name]

    @property
    def sink_names(self) -> list[str]:
        return [n for n, _ in self._sinks]

    def emit(self, event: Event) -> None:
        for name, sink in self._sinks:
            try:
                sink(event)
            except Exception:
                count = self.sink_failures.get(name, 0) + 1
                self.sink_failures[name] = count
                if count == 1:
                    log.exception("event sink %r failed; further failures are only counted", name)
