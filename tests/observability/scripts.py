"""Synthetic workloads for the metrics tests: what happened, the events it emits, and the
ledger an honest observer would keep of it.

The ledger is computed from the script itself, never from the events, so a test that
compares it with a snapshot checks the aggregator against an independent account.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import attrs
from hypothesis import strategies as st
from patchwire.events import Event, EventKind

TARGETS = (("openai", "gpt-4o-mini"), ("openai", "gpt-4o"), ("anthropic", "claude-haiku-4-5"))
CONNECTORS = ("openai", "anthropic")
RETRYABLE = ("transient", "rate_limited", "degraded")
FINAL = ("transient", "rate_limited", "degraded", "auth", "invalid_request", "integration")
# A failure written "timeout" is an attempt that ran out of time: category degraded, with
# the pipeline's timeout mark on its ATTEMPT_FAILED event.
TIMEOUT = "timeout"
OPERATIONS = ("complete", "stream", "tool:search")


def category(failure: str) -> str:
    return "degraded" if failure == TIMEOUT else failure


@attrs.frozen
class Call:
    target: tuple[str, str]
    cache: bool | None  # None: not cacheable; True: served from cache; False: cache miss
    throttle: float | None
    refused: bool
    failures: tuple[str, ...]  # category (or TIMEOUT) of each failed attempt, in order
    succeeded: bool
    delays: tuple[float, ...]  # one backoff per retry
    latency: float
    input_tokens: int
    output_tokens: int
    cost: float | None
    operation: str = "complete"


@attrs.frozen
class Fallback:
    target: tuple[str, str]
    to: tuple[str, str]
    category: str


@attrs.frozen
class Breaker:
    connector: str
    to: str


@attrs.frozen
class Credential:
    connector: str
    kind: EventKind


@attrs.frozen
class Batch:
    target: tuple[str, str]
    size: int


@attrs.frozen
class Quota:
    connector: str
    report: dict[str, float | str]


Step = Call | Fallback | Breaker | Credential | Batch | Quota

durations = st.floats(min_value=0.0, max_value=120.0, allow_nan=False)
targets = st.sampled_from(TARGETS)


@st.composite
def calls(draw: st.DrawFn) -> Call:
    cache = draw(st.sampled_from([None, True, False]))
    refused = cache is not True and draw(st.booleans())
    succeeded = cache is True or (draw(st.booleans()) and not refused)
    failures: tuple[str, ...] = ()
    if cache is not True and not refused:
        retried = tuple(draw(st.lists(st.sampled_from((*RETRYABLE, TIMEOUT)), max_size=3)))
        final = () if succeeded else (draw(st.sampled_from((*FINAL, TIMEOUT))),)
        failures = retried + final
    retries = len(failures) if succeeded else max(0, len(failures) - 1)
    return Call(
        target=draw(targets),
        cache=cache,
        throttle=None if cache is True else draw(st.none() | durations),
        refused=refused,
        failures=failures,
        succeeded=succeeded,
        delays=tuple(draw(durations) for _ in range(retries)),
        latency=draw(durations),
        input_tokens=draw(st.integers(0, 100_000)),
        output_tokens=draw(st.integers(0, 10_000)),
        cost=draw(st.none() | st.floats(min_value=0.0, max_value=5.0)),
        operation=draw(st.sampled_from(OPERATIONS)),
    )


steps = st.one_of(
    calls(),
    calls(),
    calls(),
    st.builds(Fallback, targets, targets, st.sampled_from(RETRYABLE)),
    st.builds(
        Breaker, st.sampled_from(CONNECTORS), st.sampled_from(["open", "half_open", "closed"])
    ),
    st.builds(
        Credential,
        st.sampled_from(CONNECTORS),
        st.sampled_from(
            [
                EventKind.CREDENTIAL_ACQUIRED,
                EventKind.CREDENTIAL_REFRESHED,
                EventKind.CREDENTIAL_FAILED,
                EventKind.SECRET_REREAD,
            ]
        ),
    ),
    st.builds(Batch, targets, st.integers(1, 64)),
    st.builds(
        Quota,
        st.sampled_from(CONNECTORS),
        st.fixed_dictionaries(
            {},
            optional={
                "requests_limit": st.integers(1, 10_000),
                "requests_remaining": st.integers(0, 10_000),
                "requests_reset": st.sampled_from(["1s", "6m0s", "2025-08-21T12:40:59Z"]),
                "tokens_limit": st.integers(1, 1_000_000),
                "tokens_remaining": st.integers(0, 1_000_000),
                "tokens_reset": st.floats(min_value=0.0, max_value=3600.0),
                "limiter_used_pct": st.floats(min_value=0.0, max_value=100.0),
            },
        ),
    ),
)
scripts = st.lists(steps, max_size=60)


def events(script: list[Step]) -> Iterator[Event]:
    """The events the pipeline emits for the script, following its documented conventions."""
    for call_id, step in enumerate(script, start=1):
        if isinstance(step, Fallback):
            yield Event(
                EventKind.FALLBACK_TAKEN,
                step.target[0],
                step.target[1],
                call_id=call_id,
                category=step.category,
                target=":".join(step.to),
            )
        elif isinstance(step, Breaker):
            yield Event(
                EventKind.BREAKER_TRANSITION, step.connector, data={"from": "closed", "to": step.to}
            )
        elif isinstance(step, Credential):
            yield Event(step.kind, step.connector, data={"scheme": "bearer", "token": "sk-secret"})
        elif isinstance(step, Quota):
            yield Event(EventKind.QUOTA_REPORTED, step.connector, data=step.report)
        elif isinstance(step, Batch):
            yield Event(
                EventKind.BATCH_SENT, step.target[0], step.target[1], data={"size": step.size}
            )
        else:
            yield from _call_events(call_id, step)


def _call_events(call_id: int, call: Call) -> Iterator[Event]:
    connector, model = call.target
    common: dict[str, Any] = {"call_id": call_id, "operation": call.operation}
    yield Event(EventKind.CALL_STARTED, connector, model, **common)
    if call.cache is not None:
        kind = EventKind.CACHE_HIT if call.cache else EventKind.CACHE_MISS
        yield Event(kind, connector, model, **common)
    if call.throttle is not None:
        yield Event(EventKind.THROTTLED, connector, model, duration=call.throttle, **common)
    if call.refused:
        yield Event(EventKind.LIMITER_REFUSED, connector, model, message="over budget", **common)
        yield Event(
            EventKind.CALL_FAILED,
            connector,
            model,
            category="rate_limited",
            duration=call.latency,
            **common,
        )
        return
    retries = len(call.delays)
    for attempt, failure in enumerate(call.failures, start=1):
        yield Event(
            EventKind.ATTEMPT_FAILED,
            connector,
            model,
            attempt=attempt,
            category=category(failure),
            data={"timeout": True} if failure == TIMEOUT else {},
            **common,
        )
        if attempt <= retries:
            yield Event(
                EventKind.RETRY_SCHEDULED,
                connector,
                model,
                attempt=attempt,
                category=category(failure),
                duration=call.delays[attempt - 1],
                **common,
            )
    if call.succeeded:
        yield Event(
            EventKind.CALL_SUCCEEDED,
            connector,
            model,
            duration=call.latency,
            retries=retries,
            input_tokens=call.input_tokens,
            output_tokens=call.output_tokens,
            cost=call.cost,
            cached=call.cache is True,
            **common,
        )
    else:
        yield Event(
            EventKind.CALL_FAILED,
            connector,
            model,
            duration=call.latency,
            retries=retries,
            category=category(call.failures[-1]),
            **common,
        )


@attrs.define
class Row:
    """What an observer writes down for one (connector, model)."""

    started: int = 0
    succeeded: int = 0
    failed: int = 0
    errors: Counter[str] = attrs.field(factory=Counter)
    attempt_errors: Counter[str] = attrs.field(factory=Counter)
    latencies: list[float] = attrs.field(factory=list)
    succeeded_first_try: int = 0
    succeeded_after_retry: int = 0
    failed_after_retry: int = 0
    failed_without_retry: int = 0
    retries_scheduled: int = 0
    delay_total: float = 0.0
    fallbacks: int = 0
    timeouts: Counter[str] = attrs.field(factory=Counter)  # per operation
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    cost_unknown: int = 0
    throttled: int = 0
    wait_total: float = 0.0
    wait_max: float = 0.0
    refused: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    breaker_state: str | None = None
    breaker_transitions: int = 0
    credential_events: Counter[str] = attrs.field(factory=Counter)
    batches: int = 0
    batched_items: int = 0
    quota: dict[str, Any] = attrs.field(factory=dict)


def ledger(script: list[Step], now: float = 0.0) -> dict[tuple[str, str | None], Row]:
    """``now`` is the clock reading while the script ran (quota reports are stamped with it)."""
    rows: dict[tuple[str, str | None], Row] = {}

    def row(connector: str, model: str | None) -> Row:
        return rows.setdefault((connector, model), Row())

    for step in script:
        if isinstance(step, Fallback):
            row(*step.target).fallbacks += 1
        elif isinstance(step, Breaker):
            r = row(step.connector, None)
            r.breaker_state = step.to
            r.breaker_transitions += 1
        elif isinstance(step, Credential):
            row(step.connector, None).credential_events[step.kind.value] += 1
        elif isinstance(step, Quota):
            r = row(step.connector, None)
            r.quota.update(step.report)
            if step.report:
                r.quota["reported_at"] = now
        elif isinstance(step, Batch):
            r = row(*step.target)
            r.batches += 1
            r.batched_items += step.size
        else:
            _account(row(*step.target), step)
    return rows


def _account(r: Row, call: Call) -> None:
    r.started += 1
    if call.cache is True:
        r.cache_hits += 1
    elif call.cache is False:
        r.cache_misses += 1
    if call.throttle is not None:
        r.throttled += 1
        r.wait_total += call.throttle
        r.wait_max = max(r.wait_max, call.throttle)
    if call.refused:
        r.refused += 1
        r.failed += 1
        r.failed_without_retry += 1
        r.errors["rate_limited"] += 1
        return
    r.attempt_errors.update(category(failure) for failure in call.failures)
    r.timeouts[call.operation] += call.failures.count(TIMEOUT)
    r.retries_scheduled += len(call.delays)
    for delay in call.delays:
        r.delay_total += delay
    if call.succeeded:
        r.succeeded += 1
        r.latencies.append(call.latency)
        if call.delays:
            r.succeeded_after_retry += 1
        else:
            r.succeeded_first_try += 1
        if call.cache is not True:
            r.input_tokens += call.input_tokens
            r.output_tokens += call.output_tokens
            if call.cost is None:
                r.cost_unknown += 1
            else:
                r.cost += call.cost
    else:
        r.failed += 1
        r.errors[category(call.failures[-1])] += 1
        if call.delays:
            r.failed_after_retry += 1
        else:
            r.failed_without_retry += 1
