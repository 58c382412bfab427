"""Frozen metrics values and their JSON: what a snapshot holds, with no aggregation logic.

Exporters and readers (``patchwire stats``, the metrics endpoint) need only these types.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, TypeVar, cast

import attrs
from attrs import AttrsInstance

from patchwire.histogram import Histogram

__all__ = [
    "BreakerMetrics",
    "CacheMetrics",
    "COUNT_MAPS",
    "ConnectorMetrics",
    "CostShare",
    "LatencyMetrics",
    "LimiterMetrics",
    "MetricsSnapshot",
    "PrincipalMetrics",
    "QuotaMetrics",
    "RetryMetrics",
]

_Part = TypeVar("_Part", bound=AttrsInstance)


def _frozen_counts(value: Mapping[str, int]) -> Mapping[str, int]:
    return MappingProxyType({str(key): int(count) for key, count in value.items()})


def _rows(rows: Iterable[ConnectorMetrics]) -> tuple[ConnectorMetrics, ...]:
    return tuple(rows)


def build_part(cls: type[_Part], data: Mapping[str, Any]) -> _Part:
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
    #: request transforms that ran (context-overflow fallback/trim, output repair...)
    transforms: int = 0
    #: attempts that ran out of time (counted in ``attempt_errors`` too, as ``degraded``)
    timeouts: int = 0
    #: the same, per operation ("complete", "stream", "tool:search"...)
    timeouts_by_operation: Mapping[str, int] = attrs.field(factory=dict, converter=_frozen_counts)
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    cost_unknown: int = 0
    #: unknown-cost calls by the pricing rule that was unknown ("price", "cache_write_1h"...)
    cost_missing: Mapping[str, int] = attrs.field(factory=dict, converter=_frozen_counts)
    #: what caching saved: the provider's prompt cache against the input rate (writes'
    #: premium netted) and, for replies patchwire's own cache served, their whole cost
    cache_savings: float = 0.0
    limiter: LimiterMetrics = attrs.field(factory=LimiterMetrics)
    quota: QuotaMetrics = attrs.field(factory=QuotaMetrics)
    cache: CacheMetrics = attrs.field(factory=CacheMetrics)
    breaker: BreakerMetrics = attrs.field(factory=BreakerMetrics)
    credential_events: Mapping[str, int] = attrs.field(factory=dict, converter=_frozen_counts)
    batches: int = 0
    batched_items: int = 0
    #: tool calls returned to the application
    tool_calls: int = 0
    #: replies that failed validation, by what failed: "output" (the structured output),
    #: "tool_arguments" (a tool call's arguments are not a JSON object)
    invalid_outputs: Mapping[str, int] = attrs.field(factory=dict, converter=_frozen_counts)
    #: finished calls by operation ("complete", "stream", "embed", "list_tools", "tool:NAME")
    calls_by_operation: Mapping[str, int] = attrs.field(factory=dict, converter=_frozen_counts)
    #: the failed among them, by operation
    failed_by_operation: Mapping[str, int] = attrs.field(factory=dict, converter=_frozen_counts)
    #: retries scheduled, by the error category of the attempt that failed
    retries_by_category: Mapping[str, int] = attrs.field(factory=dict, converter=_frozen_counts)
    #: tool loops (``model.run``) that ended, counted on the model handle's first target;
    #: the failed among them; their model calls; the tool calls they ran
    runs: int = 0
    runs_failed: int = 0
    run_steps: int = 0
    run_tool_calls: int = 0

    @property
    def name(self) -> str:
        return self.connector if self.model is None else f"{self.connector}:{self.model}"

    @property
    def calls(self) -> int:
        return self.succeeded + self.failed

    @property
    def error_rate(self) -> float | None:
        return _ratio(self.failed, self.calls)

    @property
    def tool_calls_per_run(self) -> float | None:
        return _ratio(self.run_tool_calls, self.runs)

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
        out["tool_calls_per_run"] = self.tool_calls_per_run
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ConnectorMetrics:
        fields = {f.name: data[f.name] for f in attrs.fields(cls) if f.name in data}
        for name, part in _PARTS.items():
            if name in fields:
                fields[name] = build_part(part, fields[name])
        return cls(**fields)


#: The fields of a row that count by key (name → count). Rows, and the aggregator's
#: tallies, combine them key by key; every other count is summed.
COUNT_MAPS: tuple[str, ...] = tuple(
    field.name
    for field in attrs.fields(ConnectorMetrics)
    if field.converter is cast(object, _frozen_counts)
)


_PARTS: Mapping[str, type[AttrsInstance]] = {
    "latency": LatencyMetrics,
    "retries": RetryMetrics,
    "limiter": LimiterMetrics,
    "quota": QuotaMetrics,
    "cache": CacheMetrics,
    "breaker": BreakerMetrics,
}


@attrs.frozen
class CostShare:
    """What the calls of one principal, one declared tag value, or no principal cost.

    Counted as the connector rows count: ``calls`` that finished, the ``failed`` among
    them; tokens and ``cost`` billed by the provider (replies served from patchwire's cache
    add none); a reply whose cost is unknown counts in ``cost_unknown`` instead of adding
    zero. ``total_cost`` is the whole cost only when every billed reply's cost is known.
    """

    calls: int = 0
    failed: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    cost_unknown: int = 0
    cache_savings: float = 0.0

    @property
    def total_cost(self) -> float | None:
        return None if self.cost_unknown else self.cost

    def __add__(self, other: CostShare) -> CostShare:
        """Two shares added up (``sum(shares, CostShare())``), e.g. into an overflow line."""
        return CostShare(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in _SHARE_FIELDS}
        )

    def __sub__(self, other: CostShare) -> CostShare:
        return CostShare(
            **{f.name: getattr(self, f.name) - getattr(other, f.name) for f in _SHARE_FIELDS}
        )

    @classmethod
    def of_rows(cls, rows: Iterable[ConnectorMetrics]) -> CostShare:
        """What the connector rows ``rows`` add up to, as a share."""
        return sum(
            (
                cls(
                    calls=row.calls,
                    failed=row.failed,
                    input_tokens=row.input_tokens,
                    output_tokens=row.output_tokens,
                    cost=row.cost,
                    cost_unknown=row.cost_unknown,
                    cache_savings=row.cache_savings,
                )
                for row in rows
            ),
            cls(),
        )

    def to_dict(self) -> dict[str, Any]:
        return {**attrs.asdict(self), "total_cost": self.total_cost}


_SHARE_FIELDS = attrs.fields(CostShare)


def _shares(value: Mapping[str, CostShare | Mapping[str, Any]]) -> Mapping[str, CostShare]:
    return MappingProxyType(
        {
            str(key): share if isinstance(share, CostShare) else build_part(CostShare, share)
            for key, share in value.items()
        }
    )


def _tag_shares(
    value: Mapping[str, Mapping[str, CostShare | Mapping[str, Any]]],
) -> Mapping[str, Mapping[str, CostShare]]:
    return MappingProxyType({str(tag): _shares(values) for tag, values in value.items()})


def _share(value: CostShare | Mapping[str, Any]) -> CostShare:
    return value if isinstance(value, CostShare) else build_part(CostShare, value)


@attrs.frozen
class PrincipalMetrics:
    """Cost by principal and by declared tag value (running totals; the JSON's ``principals``).

    ``by_principal`` is keyed by principal id; at most ``max_principals`` ids are kept and
    later ones fold into ``"(other)"`` (``folded_principals`` counts them, a lower bound
    when ``folded_exact`` is False). ``by_tag`` maps each tag ``[principals] tags`` declares
    to its values, at most ``max_tag_values`` per tag, later ones folded the same way
    (``folded_tag_values``). ``unattributed`` is the calls made for no principal (the
    service identity): the known costs of ``by_principal`` and ``unattributed`` add up to
    the known cost of the connector rows.
    """

    by_principal: Mapping[str, CostShare] = attrs.field(factory=dict, converter=_shares)
    by_tag: Mapping[str, Mapping[str, CostShare]] = attrs.field(factory=dict, converter=_tag_shares)
    unattributed: CostShare = attrs.field(factory=CostShare, converter=_share)
    max_principals: int = 0
    max_tag_values: int = 0
    folded_principals: int = 0
    folded_tag_values: int = 0
    folded_exact: bool = True

    @property
    def used(self) -> bool:
        """Whether any call was made for a principal."""
        return bool(self.by_principal)

    def to_dict(self) -> dict[str, Any]:
        return {
            "by_principal": {k: v.to_dict() for k, v in self.by_principal.items()},
            "by_tag": {
                tag: {k: v.to_dict() for k, v in values.items()}
                for tag, values in self.by_tag.items()
            },
            "unattributed": self.unattributed.to_dict(),
            "max_principals": self.max_principals,
            "max_tag_values": self.max_tag_values,
            "folded_principals": self.folded_principals,
            "folded_tag_values": self.folded_tag_values,
            "folded_exact": self.folded_exact,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PrincipalMetrics:
        return build_part(cls, data)


def _principals(value: PrincipalMetrics | Mapping[str, Any] | None) -> PrincipalMetrics | None:
    if value is None or isinstance(value, PrincipalMetrics):
        return value
    return PrincipalMetrics.from_dict(value)


@attrs.frozen
class MetricsSnapshot:
    """Metrics at ``taken_at``: running totals since ``since``, or the last ``window`` seconds.

    ``sink_failures`` counts, per event sink, the events it failed to take;
    ``limiter_queued`` is, per connector with a rate limiter, how many requests wait in it
    at ``taken_at`` (a state, the same in every view). ``principals`` is cost by principal
    and by declared tag value: running totals only, so None in a windowed view.
    """

    connectors: tuple[ConnectorMetrics, ...] = attrs.field(converter=_rows)
    sink_failures: Mapping[str, int] = attrs.field(factory=dict, converter=_frozen_counts)
    taken_at: float = 0.0
    since: float = 0.0
    window: float | None = None
    limiter_queued: Mapping[str, int] = attrs.field(factory=dict, converter=_frozen_counts)
    principals: PrincipalMetrics | None = attrs.field(default=None, converter=_principals)

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
        # Deferred: combine.py builds these value types, so it imports this module, and
        # readers of snapshots (exporters) need not load the merging code.
        from patchwire.metrics.combine import combine_rows

        return combine_rows([row for part in parts for row in part.connectors], connector, model)

    def to_dict(self) -> dict[str, Any]:
        return {
            "taken_at": self.taken_at,
            "since": self.since,
            "window": self.window,
            "sink_failures": dict(self.sink_failures),
            "limiter_queued": dict(self.limiter_queued),
            "connectors": [row.to_dict() for row in self.connectors],
            "principals": None if self.principals is None else self.principals.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MetricsSnapshot:
        return cls(
            connectors=tuple(ConnectorMetrics.from_dict(row) for row in data["connectors"]),
            sink_failures=data.get("sink_failures", {}),
            taken_at=data.get("taken_at", 0.0),
            since=data.get("since", 0.0),
            window=data.get("window"),
            limiter_queued=data.get("limiter_queued", {}),
            principals=data.get("principals"),
        )

    def render_table(self) -> str:
        """A fixed-width text table, one row per connector and model."""
        # Deferred for the same reason as in ``combine``.
        from patchwire.metrics.table import render_table

        return render_table(self)
