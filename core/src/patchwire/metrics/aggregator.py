"""The live aggregator: per-connector, per-model metrics built from call-lifecycle events.

:class:`MetricsAggregator` is an event sink: each event updates a handful of counters in
the current slot of a fixed ring of time slots, in constant time; a slot is folded into
the running totals when the ring comes round to it again. The "last N seconds" views cost
no per-sample storage and memory stays bounded however long the process runs.
:meth:`MetricsAggregator.snapshot` turns that state into frozen :class:`MetricsSnapshot`
values that can be rendered, exported as JSON and rebuilt from it.

What is counted, per ``(connector, model)`` as the events name them:

* calls: logical calls that finished (``succeeded`` + ``failed``); ``started`` counts
  CALL_STARTED, which a fallback route emits under the target it started on;
* latency of succeeded calls (histogram, quantiles within ``histogram.RELATIVE_ERROR``);
* ``errors``: final failures by category; ``attempt_errors``: failed attempts by category;
* retries split by outcome, plus every scheduled retry and its delay;
* tokens and cost billed by the provider: replies served from patchwire's cache add none,
  and a reply whose cost is unknown counts in ``cost_unknown`` instead of adding zero,
  with ``cost_missing`` naming the pricing rules that were unknown (``price`` for a model
  without one); ``cache_savings`` adds up what the provider's prompt cache saved;
* ``tool_calls``: tool calls returned to the application (served from cache or not);
  ``invalid_outputs``: replies that failed validation, by what failed (``output``: the
  structured output; ``tool_arguments``: a tool call's arguments), counted under the
  model that answered even when a transform or fallback then saved the call;
* limiter waits and refusals, cache hits and misses, fallbacks taken (under the target
  left), breaker transitions, credential events, embedding batches sent;
* current state, the same in every view: breaker state and the quota as last reported.

Besides the rows, cost by principal and by declared tag value (``by_principal``), as
running totals with a bounded number of series.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from operator import attrgetter
from typing import Any

from patchwire.clock import Clock
from patchwire.events import (
    Event,
    EventKind,
    StartedFields,
    Succeeded,
    SucceededFields,
    takes_fields,
)
from patchwire.histogram import Histogram
from patchwire.metrics.by_principal import (
    DEFAULT_MAX_PRINCIPALS,
    DEFAULT_MAX_TAG_VALUES,
    PrincipalTallies,
    add_bill,
)
from patchwire.metrics.snapshot import (
    COUNT_MAPS,
    BreakerMetrics,
    CacheMetrics,
    ConnectorMetrics,
    CostShare,
    LatencyMetrics,
    LimiterMetrics,
    MetricsSnapshot,
    QuotaMetrics,
    RetryMetrics,
    build_part,
)

__all__ = ["MetricsAggregator"]

_UNKNOWN_CATEGORY = "unknown"
# What an ATTEMPT_FAILED event's ``invalid`` mark may name; anything else is not counted,
# so event data cannot add keys to exported metrics.
_INVALID_KINDS = frozenset({"output", "tool_arguments"})
_RESET_TEXT_LIMIT = 64
_INF = math.inf


def _seconds(value: float | None) -> float | None:
    # Durations come from other components; one that is missing, negative or not finite is
    # left out rather than allowed to poison a sum.
    if value is not None and 0.0 <= value < math.inf:
        return value
    return None


# What a CALL_SUCCEEDED event says of the call, in add_succeeded's order.
_OUTCOME: Callable[
    [Event], tuple[str, float | None, int, int | None, int | None, float | None, bool]
] = attrgetter(
    "operation", "duration", "retries", "input_tokens", "output_tokens", "cost", "cached"
)


class _Tally:
    """Additive counters for one series, either running totals or one time slot."""

    __slots__ = (
        "attempt_errors",
        "batched_items",
        "batches",
        "breaker_transitions",
        "cache_hits",
        "cache_misses",
        "cache_savings",
        "calls_by_operation",
        "cost",
        "cost_missing",
        "cost_unknown",
        "credential_events",
        "errors",
        "failed",
        "failed_after_retry",
        "failed_by_operation",
        "failed_without_retry",
        "fallbacks",
        "input_tokens",
        "invalid_outputs",
        "latency",
        "output_tokens",
        "refused",
        "retries_by_category",
        "retries_scheduled",
        "retry_delay",
        "run_steps",
        "run_tool_calls",
        "runs",
        "runs_failed",
        "stamp",
        "started",
        "succeeded",
        "succeeded_after_retry",
        "succeeded_first_try",
        "throttled",
        "timeouts",
        "timeouts_by_operation",
        "tool_calls",
        "transforms",
        "wait_max",
        "wait_total",
    )

    def __init__(self, stamp: int = 0) -> None:
        self.stamp = stamp
        self.started = 0
        self.succeeded = 0
        self.failed = 0
        self.succeeded_first_try = 0
        self.succeeded_after_retry = 0
        self.failed_after_retry = 0
        self.failed_without_retry = 0
        self.errors: dict[str, int] = {}
        self.attempt_errors: dict[str, int] = {}
        self.latency = Histogram()
        self.retries_scheduled = 0
        self.retry_delay = 0.0
        self.fallbacks = 0
        self.transforms = 0  # request transforms that ran (patchwire.transforms)
        self.timeouts = 0
        self.timeouts_by_operation: dict[str, int] = {}
        self.input_tokens = 0
        self.output_tokens = 0
        self.cost = 0.0
        self.cost_unknown = 0
        self.cost_missing: dict[str, int] = {}
        self.cache_savings = 0.0
        self.throttled = 0
        self.wait_total = 0.0
        self.wait_max = 0.0
        self.refused = 0
        self.cache_hits = 0
        self.cache_misses = 0
        self.breaker_transitions = 0
        self.credential_events: dict[str, int] = {}
        self.batches = 0
        self.batched_items = 0
        self.tool_calls = 0
        self.invalid_outputs: dict[str, int] = {}
        # Tool loops (model.run) that ended, the failed among them, and what they did.
        self.runs = 0
        self.runs_failed = 0
        self.run_steps = 0
        self.run_tool_calls = 0
        # Finished calls (and the failed among them) by operation: complete, stream,
        # embed, list_tools, tool:NAME; and retries scheduled by the category that caused them.
        self.calls_by_operation: dict[str, int] = {}
        self.failed_by_operation: dict[str, int] = {}
        self.retries_by_category: dict[str, int] = {}

    def on_started(self, event: Event) -> None:
        self.started += 1

    def on_succeeded(self, event: Event) -> None:
        data = event.data
        self.add_succeeded(
            *_OUTCOME(event),
            data.get("cache_savings") if data else None,
            data.get("tool_calls") if data else None,
            data.get("cost_missing", ()) if data else (),
        )

    def add_succeeded(
        self,
        operation: str,
        duration: float | None,
        retries: int,
        input_tokens: int | None,
        output_tokens: int | None,
        cost: float | None,
        cached: bool,
        savings: object,
        calls: object,
        missing: Iterable[object],
    ) -> None:
        """A succeeded call's fields; ``savings``, ``calls`` (tool calls) and ``missing``
        (cost rules) as its event's data holds them, checked here."""
        # Every succeeded call runs this: _count and _seconds are written out, and savings
        # of zero (most calls) are not added (adding 0.0 changes no sum).
        self.succeeded += 1
        by_operation = self.calls_by_operation
        by_operation[operation] = by_operation.get(operation, 0) + 1
        if retries > 0:
            self.succeeded_after_retry += 1
        else:
            self.succeeded_first_try += 1
        if duration is not None and 0.0 <= duration < _INF:
            self.latency.record(duration)
        if savings and isinstance(savings, float) and math.isfinite(savings):
            self.cache_savings += savings
        if type(calls) is int and calls > 0:
            self.tool_calls += calls
        add_bill(self, cached, input_tokens, output_tokens, cost)
        if cached:
            return
        for rule in missing:
            if isinstance(rule, str):
                self.cost_missing[rule] = self.cost_missing.get(rule, 0) + 1

    def on_failed(self, event: Event) -> None:
        self.failed += 1
        _count(self.calls_by_operation, event.operation)
        _count(self.failed_by_operation, event.operation)
        if event.retries > 0:
            self.failed_after_retry += 1
        else:
            self.failed_without_retry += 1
        category = event.category or _UNKNOWN_CATEGORY
        self.errors[category] = self.errors.get(category, 0) + 1

    def on_attempt_failed(self, event: Event) -> None:
        category = event.category or _UNKNOWN_CATEGORY
        self.attempt_errors[category] = self.attempt_errors.get(category, 0) + 1
        if event.data.get("timeout") is True:
            # Told apart from the 503s that share the "degraded" category, per operation,
            # so a systematically slow tool shows up by name.
            self.timeouts += 1
            operation = event.operation
            self.timeouts_by_operation[operation] = self.timeouts_by_operation.get(operation, 0) + 1
        invalid = event.data.get("invalid")
        if invalid in _INVALID_KINDS:
            self.invalid_outputs[invalid] = self.invalid_outputs.get(invalid, 0) + 1

    def on_retry(self, event: Event) -> None:
        self.retries_scheduled += 1
        _count(self.retries_by_category, event.category or _UNKNOWN_CATEGORY)
        delay = _seconds(event.duration)
        if delay is not None:
            self.retry_delay += delay

    def on_throttled(self, event: Event) -> None:
        self.throttled += 1
        wait = _seconds(event.duration)
        if wait is not None:
            self.wait_total += wait
            if wait > self.wait_max:
                self.wait_max = wait

    def on_refused(self, event: Event) -> None:
        self.refused += 1

    def on_cache_hit(self, event: Event) -> None:
        self.cache_hits += 1

    def on_cache_miss(self, event: Event) -> None:
        self.cache_misses += 1

    def on_fallback(self, event: Event) -> None:
        self.fallbacks += 1

    def on_transform(self, event: Event) -> None:
        self.transforms += 1

    def on_breaker(self, event: Event) -> None:
        self.breaker_transitions += 1

    def on_credential(self, event: Event) -> None:
        kind = event.kind.value
        self.credential_events[kind] = self.credential_events.get(kind, 0) + 1

    def on_batch(self, event: Event) -> None:
        self.batches += 1
        size = event.data.get("size")
        if isinstance(size, int) and not isinstance(size, bool) and size > 0:
            self.batched_items += size

    def on_run(self, event: Event) -> None:
        self.runs += 1
        if event.category is not None:
            self.runs_failed += 1
        data = event.data
        steps, calls = data.get("steps"), data.get("tool_calls")
        if type(steps) is int and steps > 0:
            self.run_steps += steps
        if type(calls) is int and calls > 0:
            self.run_tool_calls += calls

    def merge(self, other: _Tally) -> None:
        for name in _ADDITIVE:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in COUNT_MAPS:
            mine: dict[str, int] = getattr(self, name)
            theirs: dict[str, int] = getattr(other, name)
            for key, n in theirs.items():
                mine[key] = mine.get(key, 0) + n
        self.latency.merge(other.latency)
        self.wait_max = max(self.wait_max, other.wait_max)


_ADDITIVE = tuple(
    name for name in _Tally.__slots__ if name not in {"stamp", "latency", "wait_max", *COUNT_MAPS}
)


def _count(counts: dict[str, int], key: str) -> None:
    counts[key] = counts.get(key, 0) + 1


_HANDLERS: Mapping[EventKind, Callable[[_Tally, Event], None]] = {
    EventKind.CALL_STARTED: _Tally.on_started,
    EventKind.ATTEMPT_FAILED: _Tally.on_attempt_failed,
    EventKind.RETRY_SCHEDULED: _Tally.on_retry,
    EventKind.THROTTLED: _Tally.on_throttled,
    EventKind.LIMITER_REFUSED: _Tally.on_refused,
    EventKind.CACHE_HIT: _Tally.on_cache_hit,
    EventKind.CACHE_MISS: _Tally.on_cache_miss,
    EventKind.FALLBACK_TAKEN: _Tally.on_fallback,
    EventKind.REQUEST_TRANSFORMED: _Tally.on_transform,
    EventKind.CALL_SUCCEEDED: _Tally.on_succeeded,
    EventKind.CALL_FAILED: _Tally.on_failed,
    EventKind.CREDENTIAL_ACQUIRED: _Tally.on_credential,
    EventKind.CREDENTIAL_REFRESHED: _Tally.on_credential,
    EventKind.CREDENTIAL_FAILED: _Tally.on_credential,
    EventKind.SECRET_REREAD: _Tally.on_credential,
    EventKind.BREAKER_TRANSITION: _Tally.on_breaker,
    EventKind.BATCH_SENT: _Tally.on_batch,
    EventKind.RUN_FINISHED: _Tally.on_run,
}

# Module constants: looking a member up on the enum class costs more than the rest of a
# typical event's handling.
_QUOTA_REPORTED = EventKind.QUOTA_REPORTED
_CALL_SUCCEEDED = EventKind.CALL_SUCCEEDED
_CALL_FAILED = EventKind.CALL_FAILED
_BREAKER_TRANSITION = EventKind.BREAKER_TRANSITION

_QUOTA_NUMBERS = (
    "requests_limit",
    "requests_remaining",
    "tokens_limit",
    "tokens_remaining",
    "limiter_used_pct",
)
_QUOTA_RESETS = ("requests_reset", "tokens_reset")
# The keys a report is read for, numbers first, in the order they are read.
_QUOTA_KEYS = _QUOTA_NUMBERS + _QUOTA_RESETS
_RESET_KEYS = frozenset(_QUOTA_RESETS)


# A tuple built once: ``int | float`` in the test built a union object on every reading,
# seven readings per rate-limit report (issue 19); isinstance answers the same for both.
_NUMBER_TYPES = (int, float)


def _number(value: object) -> float | None:
    if isinstance(value, _NUMBER_TYPES) and not isinstance(value, bool) and math.isfinite(value):
        return value
    return None


# Exactly float or int: what a provider's report holds (the connectors parse its headers to
# floats). For these _number's answer is the value when math.isfinite says so (which raises
# for an int too large for a float, as _number does), so note_quota asks isfinite alone and
# calls _number for any other type (issue 19: _number's frame was ~1.6k instructions, six
# readings per rate-limit report). tests/observability/test_perf_quota_exact.py holds them equal.
_EXACT_NUMBER_TYPES = frozenset({float, int})
_isfinite = math.isfinite


class _Series:
    """One ``(connector, model)``: a ring of time slots, what fell off it, and current state.

    Each event updates only the current slot; a slot about to be reused is first folded
    into ``retired``, so running totals are ``retired`` plus the ring and the hot path
    pays for one update, not two.
    """

    __slots__ = ("breaker_state", "current", "quota", "retired", "ring", "until")

    def __init__(self, slots: int) -> None:
        self.retired = _Tally()
        self.ring: list[_Tally | None] = [None] * slots
        self.current = self.retired
        self.until = -math.inf
        self.breaker_state: str | None = None
        self.quota: dict[str, float | str | None] = {}

    def turn(self, now: float, resolution: float) -> _Tally:
        """Make the slot holding ``now`` current (the clock has passed ``until``)."""
        stamp = int(now // resolution)
        ring = self.ring
        position = stamp % len(ring)
        tally = ring[position]
        if tally is None or tally.stamp != stamp:
            if tally is not None:
                self.retired.merge(tally)
            tally = ring[position] = _Tally(stamp)
        self.current = tally
        self.until = (stamp + 1) * resolution
        return tally

    def totals(self) -> _Tally:
        out = _Tally()
        out.merge(self.retired)
        for tally in self.ring:
            if tally is not None:
                out.merge(tally)
        return out

    def recent(self, stamp: int, slots: int) -> _Tally:
        out = _Tally(stamp)
        for tally in self.ring:
            if tally is not None and stamp - slots < tally.stamp <= stamp:
                out.merge(tally)
        return out

    def note_quota(self, data: Mapping[str, Any], now: float) -> None:
        # Only known keys with plausible values are kept: the snapshot is exported and
        # rendered, and event data is not allowed to smuggle anything else into it.
        # A key the report leaves out (None) is not read further: every report runs this.
        # A reset may also be a short text (a provider's own wording of when).
        quota = self.quota
        seen = False
        get = data.get
        for key in _QUOTA_KEYS:
            value = get(key)
            if value is None:
                continue
            if type(value) in _EXACT_NUMBER_TYPES:
                if _isfinite(value):
                    quota[key] = value
                    seen = True
                continue
            kept: float | str | None = _number(value)
            if (
                kept is None
                and key in _RESET_KEYS
                and isinstance(value, str)
                and len(value) <= _RESET_TEXT_LIMIT
            ):
                kept = value
            if kept is not None:
                quota[key] = kept
                seen = True
        if seen:
            quota["reported_at"] = now

    def note_breaker(self, data: Mapping[str, Any]) -> None:
        state = data.get("to")
        if isinstance(state, str) and len(state) <= _RESET_TEXT_LIMIT:
            self.breaker_state = state


@takes_fields
class MetricsAggregator:
    """An event sink that keeps metrics per connector and model, in constant memory per series.

    ``windows`` are the "last N seconds" views kept besides the running totals. Time is cut
    into slots of ``resolution`` seconds (default: the longest window / 60, at least 1 s),
    and a window is rounded down to whole slots (the snapshot's ``window`` says what it
    covers): a window view never counts an event older than its ``window`` and always counts
    one younger than ``window - resolution``. ``sink_failures`` is a live mapping (the event
    bus's counters) copied into every snapshot. ``limiter_use(connector)`` answers, at
    snapshot time, how much of its most-used configured rate-limit window is spent (percent,
    None without limits): the quota shown when the provider reports none in its headers;
    ``limiter_queue(connector)`` how many requests wait in its limiters now (None without).
    ``max_principals`` and ``max_tag_values`` bound the cost-by-principal series
    (``[principals] metrics_max_principals`` / ``metrics_max_tag_values``).
    """

    def __init__(
        self,
        clock: Clock,
        *,
        windows: Sequence[float] = (60.0, 300.0),
        resolution: float | None = None,
        sink_failures: Mapping[str, int] | None = None,
        limiter_use: Callable[[str], float | None] | None = None,
        limiter_queue: Callable[[str], int | None] | None = None,
        max_principals: int = DEFAULT_MAX_PRINCIPALS,
        max_tag_values: int = DEFAULT_MAX_TAG_VALUES,
    ) -> None:
        if not windows or any(not (0.0 < w < math.inf) for w in windows):
            raise ValueError(f"windows must be positive finite seconds, got {list(windows)!r}")
        longest = max(windows)
        if resolution is None:
            resolution = max(1.0, longest / 60.0)
        if not 0.0 < resolution <= min(windows):
            raise ValueError(
                f"resolution must be > 0 and no longer than the shortest window, got {resolution!r}"
            )
        self._clock = clock
        self._windows = tuple(sorted(windows))
        self._resolution = resolution
        self._slots = int(longest // resolution)
        self._sink_failures = sink_failures
        self._limiter_use = limiter_use
        self._limiter_queue = limiter_queue
        self._series: dict[tuple[str, str | None], _Series] = {}
        self._by_principal = PrincipalTallies(max_principals, max_tag_values)
        self._since = clock.now()

    @property
    def windows(self) -> tuple[float, ...]:
        return self._windows

    @property
    def resolution(self) -> float:
        return self._resolution

    def __call__(self, event: Event) -> None:
        key = (event.connector, event.model)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = _Series(self._slots)
        kind = event.kind
        handler = _HANDLERS.get(kind)
        if handler is not None:
            now = self._clock.now()
            if now < series.until:
                handler(series.current, event)
            else:
                handler(series.turn(now, self._resolution), event)
        if kind is _CALL_SUCCEEDED or kind is _CALL_FAILED:
            who = event.data.get("principal")
            if who is not None and type(who) is str:
                self._by_principal.on_end(event, who, kind is _CALL_SUCCEEDED)
        elif kind is _QUOTA_REPORTED:
            series.note_quota(event.data, self._clock.now())
        elif kind is _BREAKER_TRANSITION:
            series.note_breaker(event.data)

    def field_handlers(self) -> tuple[StartedFields, SucceededFields]:
        """A call's start and success as fields (patchwire.events.FieldSink): what
        ``self(event)`` does with those events, without the Event."""
        return self._started_fields, self._succeeded_fields

    def _new_series(self, connector: str, model: str | None) -> _Series:
        series = self._series[(connector, model)] = _Series(self._slots)
        return series

    # The two handlers below find the current slot of (connector, model) written out, not
    # through a shared method: every call runs both, and the method's frame cost more
    # than its three lines (issue 19).

    def _started_fields(self, connector: str, model: str | None) -> None:
        series = self._series.get((connector, model)) or self._new_series(connector, model)
        now = self._clock.now()
        tally = series.current if now < series.until else series.turn(now, self._resolution)
        tally.started += 1

    def _succeeded_fields(self, call: Succeeded) -> None:
        # One unpacking, then add_succeeded's arguments by name (operation to the cost
        # rules): a slice of the tuple spread into the call built a second tuple.
        conn, model, _, _, op, took, retries, inp, out, cost, hit, saved, tools, missing, who = call
        series = self._series.get((conn, model)) or self._new_series(conn, model)
        now = self._clock.now()
        tally = series.current if now < series.until else series.turn(now, self._resolution)
        tally.add_succeeded(op, took, retries, inp, out, cost, hit, saved, tools, missing)
        principal = who.get("principal") if who else None
        if principal is not None and type(principal) is str:
            self._by_principal.on_succeeded(principal, who.get("tags"), saved, hit, inp, out, cost)

    def snapshot(
        self,
        connector: str | None = None,
        model: str | None = None,
        *,
        window: float | None = None,
    ) -> MetricsSnapshot:
        """Running totals, or the last ``window`` seconds (any span from ``resolution`` up to
        the longest configured window, rounded down to whole slots); ``connector`` and
        ``model`` filter the rows. Cost by principal comes with unfiltered running totals."""
        now = self._clock.now()
        slots = 0
        if window is not None:
            if not self._resolution <= window <= self._windows[-1]:
                raise ValueError(
                    f"window must be between {self._resolution:g} and {self._windows[-1]:g} s, got {window!r}"
                )
            slots = int(window // self._resolution)
            window = slots * self._resolution
        stamp = int(now // self._resolution)
        used: dict[str, float | None] = {}  # per connector: every model shares its limiter
        rows = []
        for key in sorted(self._series, key=lambda k: (k[0], k[1] or "")):
            if (connector is not None and key[0] != connector) or (
                model is not None and key[1] != model
            ):
                continue
            series = self._series[key]
            tally = series.totals() if window is None else series.recent(stamp, slots)
            rows.append(_row(key, series, tally, self._limiter_share(key[0], used)))
        queued: dict[str, int] = {}
        if self._limiter_queue is not None:
            for name in dict.fromkeys(row.connector for row in rows):
                depth = self._limiter_queue(name)
                if depth is not None:
                    queued[name] = depth
        return MetricsSnapshot(
            connectors=tuple(rows),
            sink_failures=dict(self._sink_failures or {}),
            limiter_queued=queued,
            taken_at=now,
            since=self._since,
            window=window,
            principals=(
                self._by_principal.snapshot(CostShare.of_rows(rows))
                if window is None and connector is None and model is None
                else None
            ),
        )

    def _limiter_share(self, connector: str, seen: dict[str, float | None]) -> float | None:
        if self._limiter_use is None:
            return None
        if connector not in seen:
            seen[connector] = _number(self._limiter_use(connector))
        return seen[connector]

    def reset(self) -> None:
        self._series.clear()
        self._by_principal.reset()
        self._since = self._clock.now()

    def __repr__(self) -> str:
        return f"MetricsAggregator(series={len(self._series)}, windows={self._windows!r})"


def _row(
    key: tuple[str, str | None], series: _Series, tally: _Tally, limiter_used: float | None
) -> ConnectorMetrics:
    quota = series.quota
    if limiter_used is not None and quota.get("limiter_used_pct") is None:
        quota = {**quota, "limiter_used_pct": limiter_used}
    return ConnectorMetrics(
        connector=key[0],
        model=key[1],
        started=tally.started,
        succeeded=tally.succeeded,
        failed=tally.failed,
        errors=tally.errors,
        attempt_errors=tally.attempt_errors,
        latency=LatencyMetrics.of(tally.latency),
        retries=RetryMetrics(
            succeeded_first_try=tally.succeeded_first_try,
            succeeded_after_retry=tally.succeeded_after_retry,
            failed_after_retry=tally.failed_after_retry,
            failed_without_retry=tally.failed_without_retry,
            scheduled=tally.retries_scheduled,
            delay_total=tally.retry_delay,
        ),
        fallbacks=tally.fallbacks,
        transforms=tally.transforms,
        timeouts=tally.timeouts,
        timeouts_by_operation=tally.timeouts_by_operation,
        input_tokens=tally.input_tokens,
        output_tokens=tally.output_tokens,
        cost=tally.cost,
        cost_unknown=tally.cost_unknown,
        cost_missing=tally.cost_missing,
        cache_savings=tally.cache_savings,
        limiter=LimiterMetrics(
            throttled=tally.throttled,
            wait_total=tally.wait_total,
            wait_max=tally.wait_max,
            refused=tally.refused,
        ),
        quota=build_part(QuotaMetrics, quota),
        cache=CacheMetrics(hits=tally.cache_hits, misses=tally.cache_misses),
        breaker=BreakerMetrics(state=series.breaker_state, transitions=tally.breaker_transitions),
        credential_events=tally.credential_events,
        batches=tally.batches,
        batched_items=tally.batched_items,
        tool_calls=tally.tool_calls,
        invalid_outputs=tally.invalid_outputs,
        calls_by_operation=tally.calls_by_operation,
        failed_by_operation=tally.failed_by_operation,
        retries_by_category=tally.retries_by_category,
        runs=tally.runs,
        runs_failed=tally.runs_failed,
        run_steps=tally.run_steps,
        run_tool_calls=tally.run_tool_calls,
    )
