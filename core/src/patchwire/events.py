"""Call-lifecycle events and the bus that fans them out to sinks.

One event type with a ``kind`` keeps emission cheap (one small object per event, no class
lookups) and lets a sink switch on a single field. Events never carry credentials: they are
built from connector and model names, categories, numbers and redacted messages.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

import attrs

from patchwire.filling import twin

__all__ = [
    "CallFields",
    "Event",
    "EventBus",
    "EventKind",
    "FieldSink",
    "Sink",
    "Succeeded",
    "call_event",
    "takes_fields",
]

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


# No __weakref__ slot: with one, CPython refuses the __class__ assignment that builds
# the per-call events cheaply (see _Filling).
@attrs.frozen(slots=True, weakref_slot=False)
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

#: A call's success as the recorder knows it, for sinks that take fields: connector,
#: model, time, call_id, operation, duration, retries, input_tokens, output_tokens, cost,
#: cached, then what the event's ``data`` would tell a sink that counts: the cache
#: savings (0.0 when none), the tool calls, the cost rules missing, and who the call is
#: for (``principal`` and ``tags``, or empty).
Succeeded = tuple[
    str,
    str | None,
    float,
    int,
    str,
    float,
    int,
    int | None,
    int | None,
    float | None,
    bool,
    float,
    int,
    tuple[str, ...],
    Mapping[str, object],
]
#: CALL_STARTED as fields: connector, model
StartedFields = Callable[[str, str | None], None]
SucceededFields = Callable[[Succeeded], None]


# An Event being filled in (see patchwire.filling).
_Filling = twin(Event)

_new = object.__new__

#: The fields a call's start and end events set, in :data:`Succeeded`'s order: connector,
#: model, time, call_id, operation, duration, retries, input_tokens, output_tokens, cost,
#: cached.
CallFields = tuple[
    str, str | None, float, int, str, float | None, int, int | None, int | None, float | None, bool
]


def call_event(kind: EventKind, fields: CallFields, data: Mapping[str, Any]) -> Event:
    """``Event(kind, connector, model, time=..., ..., data=data)`` from ``fields``, built at
    a fraction of that call's cost (every call emits two); the other fields keep their
    defaults."""
    event: Any = _new(_Filling)  # its slots are Event's, which mypy cannot see
    event.kind = kind
    (
        event.connector,
        event.model,
        event.time,
        event.call_id,
        event.operation,
        event.duration,
        event.retries,
        event.input_tokens,
        event.output_tokens,
        event.cost,
        event.cached,
    ) = fields
    event.attempt = 0
    event.category = None
    event.target = None
    event.message = None
    event.data = data
    event.__class__ = Event
    built: Event = event
    return built


class FieldSink(Protocol):
    """A sink that can take a call's start and success as fields instead of an Event.

    Those two events are emitted on every call, and building an Event costs more than
    most sinks spend on it. ``field_handlers`` returns what to call for each (None: the
    sink does nothing with that kind); each must do exactly what ``sink(event)`` would do
    with the Event the recorder would have built.
    """

    def __call__(self, event: Event) -> None: ...

    def field_handlers(self) -> tuple[StartedFields | None, SucceededFields | None]: ...


# Exact types only: a subclass may override __call__, and it gets Events like any sink.
_FIELD_SINK_TYPES: set[type] = set()
_T = TypeVar("_T", bound=type)


def takes_fields(cls: _T) -> _T:
    """Class decorator: the bus may hand exact instances of ``cls`` fields (FieldSink)."""
    _FIELD_SINK_TYPES.add(cls)
    return cls


def _promise(quiet: Callable[[], bool | None]) -> Callable[[], bool]:
    """Asks whether a quiet sink promises now to do nothing with a call's start and success."""

    def promises() -> bool:
        # An if, not bool(): one call fewer per answer.
        try:
            if quiet():
                return True
        except Exception:  # a broken answer is not a promise to ignore events
            return False
        return False

    return promises


def _all_promise(promises: tuple[Callable[[], bool], ...]) -> Callable[[], bool]:
    # Asked in order, and no further after the first that does not promise.
    return lambda: all(promise() for promise in promises)


def _always() -> bool:
    return True


def _never() -> bool:
    return False


class EventBus:
    """Delivers each event to every sink; a sink that raises never breaks the call.

    Its failures are counted per sink name (``sink_failures``) and logged once per sink so
    a broken exporter is visible without flooding the log.

    While every sink is a built-in :class:`FieldSink` (the default hub: metrics and
    logging) or a sink that says it is quiet, ``fields_only`` (read it, never set it) is
    true and a recorder may hand a call's start and success to :meth:`call_started` and
    :meth:`call_succeeded` as fields: no Event is built that no sink reads. Any other sink
    (a plugin's, a test's list), or a quiet one that wakes, turns it off, and every sink
    then gets Events as before.

    A sink added with ``quiet=`` (a plugin's ``patchwire_record_quiet``) is asked on every
    call, before the call's start and success events: while it answers True it would do
    nothing with them, so the bus may skip building them for it. It still gets every other
    event, and every event once it answers False.
    """

    __slots__ = (
        "_fields_only",
        "_quiet",
        "_sinks",
        "_started",
        "_succeeded",
        "fields_now",
        "fields_steady",
        "sink_failures",
    )

    def __init__(self) -> None:
        self._sinks: list[tuple[str, Sink, Callable[[], bool | None] | None]] = []
        self.sink_failures: dict[str, int] = {}
        self._fields_only = True
        #: ``fields_only`` with no quiet sink to ask: true until the sinks change, so a
        #: recorder reads this attribute first and asks the property only when it is false
        self.fields_steady = True
        #: ``fields_only``'s answer now, as a plain callable planned for the bus's sinks: a
        #: recorder calls it when fields_steady is false (see _plan)
        self.fields_now: Callable[[], bool] = _always
        self._quiet: tuple[Callable[[], bool | None], ...] = ()
        self._started: tuple[tuple[str, StartedFields], ...] = ()
        self._succeeded: tuple[tuple[str, SucceededFields], ...] = ()

    def add(self, name: str, sink: Sink, *, quiet: Callable[[], bool | None] | None = None) -> None:
        """Subscribe ``sink``; ``quiet``, when given, says while the sink would ignore a
        call's start and success (see the class)."""
        self._sinks.append((name, sink, quiet))
        self._plan()

    def remove(self, name: str) -> None:
        self._sinks = [entry for entry in self._sinks if entry[0] != name]
        self._plan()

    @property
    def fields_only(self) -> bool:
        """A call's start and success may go as fields (read per call: quiet sinks wake)."""
        return self.fields_now()

    def _plan(self) -> None:
        self._quiet = tuple(q for _, _, q in self._sinks if q is not None)
        self._fields_only = all(
            q is not None or type(s) in _FIELD_SINK_TYPES for _, s, q in self._sinks
        )
        self.fields_steady = self._fields_only and not self._quiet
        # The recorder asks twice per call while a quiet sink listens (OpenTelemetry's
        # plugin, installed, with no SDK): with one such sink, its promise is asked straight,
        # without the property's frame, the loop and the test of _fields_only (issue 19).
        if not self._fields_only:
            self.fields_now = _never
        elif not self._quiet:
            self.fields_now = _always
        elif len(self._quiet) == 1:
            self.fields_now = _promise(self._quiet[0])
        else:
            self.fields_now = _all_promise(tuple(map(_promise, self._quiet)))
        started: list[tuple[str, StartedFields]] = []
        succeeded: list[tuple[str, SucceededFields]] = []
        if self._fields_only:
            for name, sink, quiet in self._sinks:
                if quiet is not None:
                    continue
                on_started, on_succeeded = sink.field_handlers()  # type: ignore[attr-defined]
                if on_started is not None:
                    started.append((name, on_started))
                if on_succeeded is not None:
                    succeeded.append((name, on_succeeded))
        self._started, self._succeeded = tuple(started), tuple(succeeded)

    @property
    def sink_names(self) -> list[str]:
        return [entry[0] for entry in self._sinks]

    def emit(self, event: Event) -> None:
        for name, sink, _ in self._sinks:
            try:
                sink(event)
            except Exception:
                self._failed(name)

    def call_started(self, connector: str, model: str | None) -> None:
        """CALL_STARTED as fields; only while ``fields_only``."""
        for name, handler in self._started:
            try:
                handler(connector, model)
            except Exception:
                self._failed(name)

    def call_succeeded(self, call: Succeeded) -> None:
        """CALL_SUCCEEDED as fields; only while ``fields_only``."""
        for name, handler in self._succeeded:
            try:
                handler(call)
            except Exception:
                self._failed(name)

    def _failed(self, name: str) -> None:
        count = self.sink_failures.get(name, 0) + 1
        self.sink_failures[name] = count
        if count == 1:
            log.exception("event sink %r failed; further failures are only counted", name)
