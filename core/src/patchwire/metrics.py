"""Per-connector, per-model metrics built from call-lifecycle events.

:class:`MetricsAggregator` is an event sink: each event updates a handful of counters in
the current slot of a fixed ring of time slots, in constant time; a slot is folded into
the running totals when the ring comes round to it again. The "last N seconds" views cost
no per-sample storage and memory stays bounded however long the process runs. :meth:`MetricsAggregator.snapshot` turns that state into
frozen :class:`MetricsSnapshot` values that can be rendered, exported as JSON and rebuilt
from it.

What is counted, per ``(connector, model)`` as the events name them:

* calls: logical calls that finished (``succeeded`` + ``failed``); ``started`` counts
  CALL_STARTED, which a fallback route emits under the target it started on;
* latency of succeeded calls (histogram, quantiles within ``histogram.RELATIVE_ERROR``);
* ``errors``: final failures by category; ``attempt_errors``: failed attempts by category;
* retries split by outcome, plus every scheduled retry and its delay;
* tokens and cost billed by the provider: replies served from patchwire's cache add none,
  and a reply whose cost is unknown counts in ``cost_unknown`` instead of adding zero;
* limiter waits and refusals, cache hits and misses, fallbacks taken (under the target
  left), breaker transitions, credential events, embedding batches sent;
* current state, the same in every view: breaker state and the quota as last reported.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, TypeVar

import attrs
from attrs import AttrsInstance

from patchwire.clock import Clock
from patchwire.events import Event, EventKind
from patchwire.histogram import Histogram

__all__ = [
    "BreakerMetrics",
    "CacheMetrics",
    "ConnectorMetrics",
    "LatencyMetrics",
    "LimiterMetrics",
    "MetricsAggregator",
    "MetricsSnapshot",
    "QuotaMetrics",
    "RetryMetrics",
]

_UNKNOWN_CATEGORY = "unknown"
_RESET_TEXT_LIMIT = 64

_Part = TypeVar("_Part", bound=AttrsInstance)


def _frozen_counts(value: Mapping[str, int]) -> Mapping[str, int]:
    return MappingProxyType({str(key): int(count) for key, count in value.items()})


def _rows(rows: Iterable[ConnectorMetrics]) -> tuple[ConnectorMetrics, ...]:
    return tuple(rows)


def _build(cls: type[_Part], data: Mapping[str, Any]) -> _Part:
    # Derived values (rates, means) are exported for readers but never fed back in.
    return cls(**{f.name: data[f.name] for f in attrs.fields(cls) if f.name in data})


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@attrs.frozen
class LatencyMetrics:
    """Latency of succeeded calls, in seconds.

    ``histogram`` (not exported, not compared) is this value's own copy of the samples'
    histogram, kept so that rows of a live snapshot combine with exact quantiles; rows
    rebuilt from JSON have none.
    """

    count: int = 0
    sum: float = 0.0
    max: float | None = None
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    histogram: Histogram | None = attrs.field(default=None, eq=False, repr=False)

    @classmethod
    def of(cls, histogram: Histogram) -> LatencyMetrics:
        own = Histogram()
        own.merge(histogram)
        return cls(
            count=own.count,
            sum=own.sum,
            max=own.max if own.count else None,
            p50=own.quantile(0.50),
            p95=own.quantile(0.95),
            p99=own.quantile(0.99),
            histogram=own,
        )

    @property
    def mean(self) -> float | None:
        return self.sum / self.count if self.count else None

    def to_dict(self) -> dict[str, Any]:
        exported = attrs.asdict(self, filter=lambda field, _: field.name != "histogram")
        return {**exported, "mean": self.mean}


@attrs.frozen
class RetryMetrics:
    """Finished calls split by whether they retried, and the retries scheduled (with delay)."""

    succeeded_first_try: int = 0
    succeeded_after_retry: int = 0
    failed_after_retry: int = 0
    failed_without_retry: int = 0
    scheduled: int = 0
    delay_total: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen
class LimiterMetrics:
    """Time calls waited in the rate limiter, and requests it refused."""

    throttled: int = 0
    wait_total: float = 0.0
    wait_max: float = 0.0
    refused: int = 0

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen
class QuotaMetrics:
    """The provider's quota as last reported, field by field, and the limiter's own view.

    Reset values are whatever the connector reported (seconds, or the provider's text).
    """

    requests_limit: float | None = None
    requests_remaining: float | None = None
    requests_reset: float | str | None = None
    tokens_limit: float | None = None
    tokens_remaining: float | None = None
    tokens_reset: float | str | None = None
    limiter_used_pct: float | None = None
    reported_at: float | None = None

    @property
    def used_pct(self) -> float | None:
        """The larger of the provider's request and token use, in percent; else the limiter's."""
        shares = [
            100.0 * (1.0 - remaining / limit)
            for limit, remaining in (
                (self.requests_limit, self.requests_remaining),
                (self.tokens_limit, self.tokens_remaining),
            )
            if limit is not None and remaining is not None and limit > 0
        ]
        return max(shares) if shares else self.limiter_used_pct

    def to_dict(self) -> dict[str, Any]:
        return {**attrs.asdict(self), "used_pct": self.used_pct}


@attrs.frozen
class CacheMetrics:
    hits: int = 0
    misses: int = 0

    @property
    def hit_rate(self) -> float | None:
        return _ratio(self.hits, self.hits + self.misses)

    def to_dict(self) -> dict[str, Any]:
        return {**attrs.asdict(self), "hit_rate": self.hit_rate}


@attrs.frozen
class BreakerMetrics:
    """The circuit breaker's current state (None until it reports one) and its transitions."""

    state: str | None = None
    transitions: int = 0

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen
class ConnectorMetrics:
    """Everything measured for one connector and model (``model`` None: connector-wide events)."""

    connector: str
    model: str | None = None
    started: int = 0
    succeeded: int = 0
    failed: int = 0
    errors: Mapping[str, int] = attrs.field(factory=dict, converter=_frozen_counts)
    attempt_errors: Mapping[str, int] = attrs.field(factory=dict, converter=_frozen_counts)
    latency: LatencyMetrics = attrs.field(factory=LatencyMetrics)
    retries: RetryMetrics = attrs.field(factory=RetryMetrics)
    fallbacks: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    cost_unknown: int = 0
    limiter: LimiterMetrics = attrs.field(factory=LimiterMetrics)
    quota: QuotaMetrics = attrs.field(factory=QuotaMetrics)
    cache: CacheMetrics = attrs.field(factory=CacheMetrics)
    breaker: BreakerMetrics = attrs.field(factory=BreakerMetrics)
    credential_events: Mapping[str, int] = attrs.field(factory=dict, converter=_frozen_counts)
    batches: int = 0
    batched_items: int = 0

    @property
    def name(self) -> str:
        return self.connector if self.model is None else f"{self.connector}:{self.model}"

    @property
    def calls(self) -> int:
        return self.succeeded + self.failed

    @property
    def error_rate(self) -> float | None:
        return _ratio(self.failed, self.calls)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in attrs.fields(ConnectorMetrics):
            value = getattr(self, f.name)
            if f.name in _PARTS:
                value = value.to_dict()
            elif isinstance(value, Mapping):
                value = dict(value)
            out[f.name] = value
        out["calls"] = self.calls
        out["error_rate"] = self.error_rate
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ConnectorMetrics:
        fields = {f.name: data[f.name] for f in attrs.fields(cls) if f.name in data}
        for name, part in _PARTS.items():
            if name in fields:
                fields[name] = _build(part, fields[name])
        return cls(**fields)


_PARTS: Mapping[str, type[AttrsInstance]] = {
    "latency": LatencyMetrics,
    "retries": RetryMetrics,
    "limiter": LimiterMetrics,
    "quota": QuotaMetrics,
    "cache": CacheMetrics,
    "breaker": BreakerMetrics,
}


@attrs.frozen
class MetricsSnapshot:
    """Metrics at ``taken_at``: running totals since ``since``, or the last ``window`` seconds.

    ``sink_failures`` counts, per event sink, the events it failed to take.
    """

    connectors: tuple[ConnectorMetrics, ...] = attrs.field(converter=_rows)
    sink_failures: Mapping[str, int] = attrs.field(factory=dict, converter=_frozen_counts)
    taken_at: float = 0.0
    since: float = 0.0
    window: float | None = None

    def for_model(self, connector: str, model: str | None) -> ConnectorMetrics:
        """The row for one model, with the connector's breaker and quota when it has none itself.

        A model nothing was recorded for gets an empty row, so ``model.usage()`` always
        answers. Inherited breaker and quota values describe the connector as a whole.
        """
        row = shared = None
        for candidate in self.connectors:
            if candidate.connector == connector:
                if candidate.model == model:
                    row = candidate
                if candidate.model is None:
                    shared = candidate
        if row is None:
            row = ConnectorMetrics(connector=connector, model=model)
        if shared is None or shared is row:
            return row
        changes: dict[str, Any] = {}
        if row.breaker.state is None and shared.breaker.state is not None:
            changes["breaker"] = attrs.evolve(row.breaker, state=shared.breaker.state)
        if row.quota == QuotaMetrics():
            changes["quota"] = shared.quota
        return attrs.evolve(row, **changes) if changes else row

    def with_sink_failures(self, failures: Mapping[str, int]) -> MetricsSnapshot:
        return attrs.evolve(self, sink_failures=failures)

    @staticmethod
    def combine(
        parts: Iterable[MetricsSnapshot],
        *,
        connector: str | None = None,
        model: str | None = None,
    ) -> ConnectorMetrics:
        """One row adding up every row of ``parts``, e.g. the targets of a route.

        Counts and sums add; latency quantiles are exact when the rows come from live
        snapshots (rows rebuilt from JSON combine only their counts, sums and maxima);
        the quota shown is the most used one and the breaker state the worst one. The
        row is named ``connector`` and ``model`` when given, else after the rows joined
        with "+"; an empty combination needs ``connector`` to be named at all.
        """
        return _combine([row for part in parts for row in part.connectors], connector, model)

    def to_dict(self) -> dict[str, Any]:
        return {
            "taken_at": self.taken_at,
            "since": self.since,
            "window": self.window,
            "sink_failures": dict(self.sink_failures),
            "connectors": [row.to_dict() for row in self.connectors],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MetricsSnapshot:
        return cls(
            connectors=tuple(ConnectorMetrics.from_dict(row) for row in data["connectors"]),
            sink_failures=data.get("sink_failures", {}),
            taken_at=data.get("taken_at", 0.0),
            since=data.get("since", 0.0),
            window=data.get("window"),
        )

    def render_table(self) -> str:
        """A fixed-width text table, one row per connector and model."""
        if self.window is None:
            title = f"patchwire metrics since start ({self.taken_at - self.since:.1f} s)"
        else:
            title = f"patchwire metrics, last {self.window:g} s"
        lines = [title]
        if not self.connectors:
            lines.append("(nothing recorded)")
        else:
            width = max(len("connector:model"), *(len(row.name) for row in self.connectors))
            header = [f"{'connector:model':<{width}}"]
            header += [f"{label:>{size}}" for label, size, _ in _COLUMNS]
            lines.append("  ".join(header))
            for row in self.connectors:
                cells = [f"{row.name:<{width}}"]
                cells += [f"{render(row):>{size}}" for _, size, render in _COLUMNS]
                lines.append("  ".join(cells))
        if self.sink_failures:
            failures = ", ".join(f"{name}={n}" for name, n in sorted(self.sink_failures.items()))
            lines.append(f"sink failures: {failures}")
        return "\n".join(lines) + "\n"


_BREAKER_SEVERITY = {"open": 0, "half_open": 1, "closed": 2}
_SUMMED = (
    "started",
    "succeeded",
    "failed",
    "fallbacks",
    "input_tokens",
    "output_tokens",
    "cost",
    "cost_unknown",
    "batches",
    "batched_items",
)


def _combine(
    rows: Sequence[ConnectorMetrics], connector: str | None, model: str | None
) -> ConnectorMetrics:
    if connector is None:
        connector = "+".join(dict.fromkeys(row.connector for row in rows))
    if model is None:
        model = "+".join(dict.fromkeys(row.model for row in rows if row.model is not None)) or None
    if len(rows) == 1:
        return attrs.evolve(rows[0], connector=connector, model=model)
    fields: dict[str, Any] = {name: sum(getattr(row, name) for row in rows) for name in _SUMMED}
    for name in ("errors", "attempt_errors", "credential_events"):
        counts: Counter[str] = Counter()
        for row in rows:
            counts.update(getattr(row, name))
        fields[name] = counts
    return ConnectorMetrics(
        connector=connector,
        model=model,
        latency=_combine_latency([row.latency for row in rows]),
        retries=RetryMetrics(
            **{
                f.name: sum(getattr(row.retries, f.name) for row in rows)
                for f in attrs.fields(RetryMetrics)
            }
        ),
        limiter=LimiterMetrics(
            throttled=sum(row.limiter.throttled for row in rows),
            wait_total=sum(row.limiter.wait_total for row in rows),
            wait_max=max((row.limiter.wait_max for row in rows), default=0.0),
            refused=sum(row.limiter.refused for row in rows),
        ),
        quota=max(
            (row.quota for row in rows),
            key=lambda q: (q.used_pct is not None, q.used_pct or 0.0, q.reported_at is not None),
            default=QuotaMetrics(),
        ),
        cache=CacheMetrics(
            hits=sum(row.cache.hits for row in rows),
            misses=sum(row.cache.misses for row in rows),
        ),
        breaker=BreakerMetrics(
            state=min(
                (row.breaker.state for row in rows if row.breaker.state is not None),
                key=lambda state: _BREAKER_SEVERITY.get(state, len(_BREAKER_SEVERITY)),
                default=None,
            ),
            transitions=sum(row.breaker.transitions for row in rows),
        ),
        **fields,
    )


def _combine_latency(parts: Sequence[LatencyMetrics]) -> LatencyMetrics:
    measured = [part for part in parts if part.count]
    if len(measured) <= 1:
        return measured[0] if measured else LatencyMetrics()
    histograms = [part.histogram for part in measured if part.histogram is not None]
    if len(histograms) == len(measured):
        merged = Histogram()
        for histogram in histograms:
            merged.merge(histogram)
        return LatencyMetrics.of(merged)
    return LatencyMetrics(
        count=sum(part.count for part in measured),
        sum=sum(part.sum for part in measured),
        max=max((part.max for part in measured if part.max is not None), default=None),
    )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}"


def _cost(row: ConnectorMetrics) -> str:
    return f"{row.cost:.4f}" + ("+?" if row.cost_unknown else "")


def _quota(row: ConnectorMetrics) -> str:
    used = row.quota.used_pct
    return "-" if used is None else f"{used:.1f}"


_COLUMNS: Sequence[tuple[str, int, Callable[[ConnectorMetrics], str]]] = (
    ("calls", 6, lambda r: str(r.calls)),
    ("p50 ms", 8, lambda r: _ms(r.latency.p50)),
    ("p95 ms", 8, lambda r: _ms(r.latency.p95)),
    ("p99 ms", 8, lambda r: _ms(r.latency.p99)),
    ("err %", 5, lambda r: _pct(r.error_rate)),
    ("retries", 7, lambda r: str(r.retries.scheduled)),
    ("fallbk", 6, lambda r: str(r.fallbacks)),
    ("tok in", 9, lambda r: str(r.input_tokens)),
    ("tok out", 9, lambda r: str(r.output_tokens)),
    ("cost", 10, _cost),
    ("cache %", 7, lambda r: _pct(r.cache.hit_rate)),
    ("wait s", 7, lambda r: f"{r.limiter.wait_total:.2f}"),
    ("quota %", 7, _quota),
)


def _seconds(value: float | None) -> float | None:
    # Durations come from other components; one that is missing, negative or not finite is
    # left out rather than allowed to poison a sum.
    if value is not None and 0.0 <= value < math.inf:
        return value
    return None


class _Tally:
    """Additive counters for one series, either running totals or one time slot."""

    __slots__ = (
        "attempt_errors",
        "batched_items",
        "batches",
        "breaker_transitions",
        "cache_hits",
        "cache_misses",
        "cost",
        "cost_unknown",
        "credential_events",
        "errors",
        "failed",
        "failed_after_retry",
        "failed_without_retry",
        "fallbacks",
        "input_tokens",
        "latency",
        "output_tokens",
        "refused",
        "retries_scheduled",
        "retry_delay",
        "stamp",
        "started",
        "succeeded",
        "succeeded_after_retry",
        "succeeded_first_try",
        "throttled",
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
        self.input_tokens = 0
        self.output_tokens = 0
        self.cost = 0.0
        self.cost_unknown = 0
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

    def on_started(self, event: Event) -> None:
        self.started += 1

    def on_succeeded(self, event: Event) -> None:
        self.succeeded += 1
        if event.retries > 0:
            self.succeeded_after_retry += 1
        else:
            self.succeeded_first_try += 1
        latency = _seconds(event.duration)
        if latency is not None:
            self.latency.record(latency)
        if event.cached:
            return
        if event.input_tokens:
            self.input_tokens += event.input_tokens
        if event.output_tokens:
            self.output_tokens += event.output_tokens
        cost = event.cost
        if cost is not None and math.isfinite(cost):
            self.cost += cost
        else:
            self.cost_unknown += 1

    def on_failed(self, event: Event) -> None:
        self.failed += 1
        if event.retries > 0:
            self.failed_after_retry += 1
        else:
            self.failed_without_retry += 1
        category = event.category or _UNKNOWN_CATEGORY
        self.errors[category] = self.errors.get(category, 0) + 1

    def on_attempt_failed(self, event: Event) -> None:
        category = event.category or _UNKNOWN_CATEGORY
        self.attempt_errors[category] = self.attempt_errors.get(category, 0) + 1

    def on_retry(self, event: Event) -> None:
        self.retries_scheduled += 1
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

    def merge(self, other: _Tally) -> None:
        for name in _ADDITIVE:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for mine, theirs in (
            (self.errors, other.errors),
            (self.attempt_errors, other.attempt_errors),
            (self.credential_events, other.credential_events),
        ):
            for key, n in theirs.items():
                mine[key] = mine.get(key, 0) + n
        self.latency.merge(other.latency)
        self.wait_max = max(self.wait_max, other.wait_max)


_ADDITIVE = tuple(
    name
    for name in _Tally.__slots__
    if name not in {"stamp", "errors", "attempt_errors", "credential_events", "latency", "wait_max"}
)

_HANDLERS: Mapping[EventKind, Callable[[_Tally, Event], None]] = {
    EventKind.CALL_STARTED: _Tally.on_started,
    EventKind.ATTEMPT_FAILED: _Tally.on_attempt_failed,
    EventKind.RETRY_SCHEDULED: _Tally.on_retry,
    EventKind.THROTTLED: _Tally.on_throttled,
    EventKind.LIMITER_REFUSED: _Tally.on_refused,
    EventKind.CACHE_HIT: _Tally.on_cache_hit,
    EventKind.CACHE_MISS: _Tally.on_cache_miss,
    EventKind.FALLBACK_TAKEN: _Tally.on_fallback,
    EventKind.CALL_SUCCEEDED: _Tally.on_succeeded,
    EventKind.CALL_FAILED: _Tally.on_failed,
    EventKind.CREDENTIAL_ACQUIRED: _Tally.on_credential,
    EventKind.CREDENTIAL_REFRESHED: _Tally.on_credential,
    EventKind.CREDENTIAL_FAILED: _Tally.on_credential,
    EventKind.SECRET_REREAD: _Tally.on_credential,
    EventKind.BREAKER_TRANSITION: _Tally.on_breaker,
    EventKind.BATCH_SENT: _Tally.on_batch,
}

# Module constants: looking a member up on the enum class costs more than the rest of a
# typical event's handling.
_QUOTA_REPORTED = EventKind.QUOTA_REPORTED
_BREAKER_TRANSITION = EventKind.BREAKER_TRANSITION

_QUOTA_NUMBERS = (
    "requests_limit",
    "requests_remaining",
    "tokens_limit",
    "tokens_remaining",
    "limiter_used_pct",
)
_QUOTA_RESETS = ("requests_reset", "tokens_reset")


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return value
    return None


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
        seen = False
        for key in _QUOTA_NUMBERS:
            number = _number(data.get(key))
            if number is not None:
                self.quota[key] = number
                seen = True
        for key in _QUOTA_RESETS:
            value = data.get(key)
            reset: float | str | None = _number(value)
            if reset is None and isinstance(value, str) and len(value) <= _RESET_TEXT_LIMIT:
                reset = value
            if reset is not None:
                self.quota[key] = reset
                seen = True
        if seen:
            self.quota["reported_at"] = now

    def note_breaker(self, data: Mapping[str, Any]) -> None:
        state = data.get("to")
        if isinstance(state, str) and len(state) <= _RESET_TEXT_LIMIT:
            self.breaker_state = state


class MetricsAggregator:
    """An event sink that keeps metrics per connector and model, in constant memory per series.

    ``windows`` are the "last N seconds" views kept besides the running totals. Time is cut
    into slots of ``resolution`` seconds (default: the longest window / 60, at least 1 s),
    and a window is rounded down to whole slots (the snapshot's ``window`` says what it
    covers): a window view never counts an event older than its ``window`` and always counts
    one younger than ``window - resolution``. ``sink_failures`` is a live mapping (the event
    bus's counters) copied into every snapshot.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        windows: Sequence[float] = (60.0, 300.0),
        resolution: float | None = None,
        sink_failures: Mapping[str, int] | None = None,
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
        self._series: dict[tuple[str, str | None], _Series] = {}
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
        if kind is _QUOTA_REPORTED:
            series.note_quota(event.data, self._clock.now())
        elif kind is _BREAKER_TRANSITION:
            series.note_breaker(event.data)

    def snapshot(
        self,
        connector: str | None = None,
        model: str | None = None,
        *,
        window: float | None = None,
    ) -> MetricsSnapshot:
        """Running totals, or the last ``window`` seconds (any span from ``resolution`` up to
        the longest configured window, rounded down to whole slots); ``connector`` and
        ``model`` filter the rows."""
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
        rows = []
        for key in sorted(self._series, key=lambda k: (k[0], k[1] or "")):
            if (connector is not None and key[0] != connector) or (
                model is not None and key[1] != model
            ):
                continue
            series = self._series[key]
            tally = series.totals() if window is None else series.recent(stamp, slots)
            rows.append(_row(key, series, tally))
        return MetricsSnapshot(
            connectors=tuple(rows),
            sink_failures=dict(self._sink_failures or {}),
            taken_at=now,
            since=self._since,
            window=window,
        )

    def reset(self) -> None:
        self._series.clear()
        self._since = self._clock.now()

    def __repr__(self) -> str:
        return f"MetricsAggregator(series={len(self._series)}, windows={self._windows!r})"


def _row(key: tuple[str, str | None], series: _Series, tally: _Tally) -> ConnectorMetrics:
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
        input_tokens=tally.input_tokens,
        output_tokens=tally.output_tokens,
        cost=tally.cost,
        cost_unknown=tally.cost_unknown,
        limiter=LimiterMetrics(
            throttled=tally.throttled,
            wait_total=tally.wait_total,
            wait_max=tally.wait_max,
            refused=tally.refused,
        ),
        quota=_build(QuotaMetrics, series.quota),
        cache=CacheMetrics(hits=tally.cache_hits, misses=tally.cache_misses),
        breaker=BreakerMetrics(state=series.breaker_state, transitions=tally.breaker_transitions),
        credential_events=tally.credential_events,
        batches=tally.batches,
        batched_items=tally.batched_items,
    )
