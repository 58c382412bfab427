"""The collector's output, read back with ``prometheus_client.parser``, says what the snapshot
says; its labels come from bounded sources only; the distribution registers as a plugin."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Mapping
from importlib import metadata

import pytest
from hypothesis import given
from hypothesis import strategies as st
from patchwire.clock import VirtualClock
from patchwire.events import Event, EventKind
from patchwire.histogram import Histogram
from patchwire.metrics import (
    BreakerMetrics,
    ConnectorMetrics,
    LatencyMetrics,
    MetricsAggregator,
    MetricsSnapshot,
    QuotaMetrics,
)
from patchwire.plugins import PluginHost
from patchwire_prometheus import labels
from patchwire_prometheus.collector import DEFAULT_BUCKETS, PatchwireCollector
from patchwire_prometheus.exposition import BUCKETS_ENV, buckets_from_environment, renderer
from patchwire_prometheus.plugin import plugin
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parsed(snapshot: MetricsSnapshot, buckets: tuple[float, ...] = DEFAULT_BUCKETS) -> Samples:
    text = renderer(buckets)(snapshot).decode()
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(samples: Samples, name: str, **want: str) -> float:
    return samples[(name, tuple(sorted(want.items())))]


def busy_snapshot() -> MetricsSnapshot:
    clock = VirtualClock()
    # Four requests wait in openai's limiter at the scrape.
    aggregator = MetricsAggregator(
        clock, limiter_queue=lambda name: 4 if name == "openai" else None
    )
    row = {"connector": "openai", "model": "gpt-4o-mini"}

    def emit(kind: EventKind, model: str | None = "gpt-4o-mini", **fields: object) -> None:
        aggregator(Event(kind, "openai", model, time=clock.now(), **fields))  # type: ignore[arg-type]

    # Rich calls: two replies with two tool calls each; two of unknown cost, one for want
    # of a price, one for a service tier and a rule nobody knows (labels stay bounded).
    rich: dict[float, dict[str, object]] = {
        0.3: {"tool_calls": 2},
        1.5: {"cost_missing": ("service_tier:flex", "a prompt someone pasted")},
        100.0: {"cost_missing": ("price",), "cache_savings": 0.0005},
    }
    for latency in (0.005, 0.05, 0.3, 0.3, 1.5, 100.0):
        emit(EventKind.CALL_STARTED)
        emit(
            EventKind.CALL_SUCCEEDED,
            duration=latency,
            input_tokens=100,
            output_tokens=20,
            cost=None if "cost_missing" in rich.get(latency, {}) else 0.002,
            retries=1 if latency == 1.5 else 0,
            data=rich.get(latency, {}),
        )
    emit(
        EventKind.CALL_SUCCEEDED,
        duration=0.002,
        cached=True,
        data={"cache_savings": 0.002, "tool_calls": 1},
    )
    emit(EventKind.ATTEMPT_FAILED, category="integration", data={"invalid": "output"})
    emit(EventKind.ATTEMPT_FAILED, category="integration", data={"invalid": "tool_arguments"})
    emit(EventKind.ATTEMPT_FAILED, category="integration", data={"invalid": "output"})
    emit(EventKind.CALL_FAILED, category="rate_limited", retries=2)
    emit(EventKind.CALL_FAILED, category="a prompt someone pasted")
    emit(EventKind.CALL_FAILED, category="another made-up category")
    emit(EventKind.ATTEMPT_FAILED, category="transient")
    emit(EventKind.ATTEMPT_FAILED, category="transient")
    emit(EventKind.ATTEMPT_FAILED, category="degraded", data={"timeout": True})
    emit(EventKind.ATTEMPT_FAILED, category="degraded", data={"timeout": True}, operation="stream")
    emit(
        EventKind.ATTEMPT_FAILED,
        category="degraded",
        data={"timeout": True},
        operation="tool:a prompt pasted as an operation name",
    )
    emit(EventKind.RETRY_SCHEDULED, duration=0.25, category="transient")
    emit(EventKind.RETRY_SCHEDULED, duration=0.5, category="a prompt someone pasted")
    # Another model's calls by operation (leaving gpt-4o-mini's totals as they were).
    emit(EventKind.CALL_SUCCEEDED, model="gpt-4o", duration=0.2, operation="stream", cost=0.0)
    emit(EventKind.CALL_FAILED, model="gpt-4o", category="transient", operation="tool:search")
    emit(EventKind.THROTTLED, duration=0.4)
    emit(EventKind.THROTTLED, duration=1.1)
    emit(EventKind.LIMITER_REFUSED)
    emit(EventKind.CACHE_HIT)
    emit(EventKind.CACHE_MISS)
    emit(EventKind.CACHE_MISS)
    emit(EventKind.FALLBACK_TAKEN)
    emit(EventKind.BATCH_SENT, data={"size": 7})
    emit(EventKind.CREDENTIAL_REFRESHED, model=None)
    emit(EventKind.CREDENTIAL_ACQUIRED, model=None)
    emit(EventKind.BREAKER_TRANSITION, model=None, data={"to": "open"})
    emit(
        EventKind.QUOTA_REPORTED,
        model=None,
        data={
            "requests_limit": 500,
            "requests_remaining": 125,
            "tokens_limit": 10000,
            "tokens_remaining": 9000,
            "requests_reset": "user text that must not become a label",
        },
    )
    assert row  # the row the assertions below name
    return aggregator.snapshot().with_sink_failures({"plugin:broken": 2})


def test_every_family_reads_back_as_the_snapshot_reports() -> None:
    snapshot = busy_snapshot()
    samples = parsed(snapshot)
    row = snapshot.for_model("openai", "gpt-4o-mini")
    shared = next(r for r in snapshot.connectors if r.model is None)
    m = {"connector": "openai", "model": "gpt-4o-mini"}
    c = {"connector": "openai", "model": ""}

    assert value(samples, "patchwire_calls_total", **m, outcome="succeeded", category="") == 7
    assert (
        value(samples, "patchwire_calls_total", **m, outcome="failed", category="rate_limited") == 1
    )
    # Two made-up categories share one bounded label value, and their counts add.
    assert value(samples, "patchwire_calls_total", **m, outcome="failed", category="other") == 2
    assert value(samples, "patchwire_calls_started_total", **m) == row.started == 6
    assert value(samples, "patchwire_calls_retried_total", **m, outcome="succeeded") == 1
    assert value(samples, "patchwire_calls_retried_total", **m, outcome="failed") == 1
    assert value(samples, "patchwire_attempt_failures_total", **m, category="transient") == 2
    assert value(samples, "patchwire_attempt_failures_total", **m, category="degraded") == 3
    assert value(samples, "patchwire_timeouts_total", **m, operation="complete") == 1
    assert value(samples, "patchwire_timeouts_total", **m, operation="stream") == 1
    assert value(samples, "patchwire_timeouts_total", **m, operation="tool:other") == 1
    assert row.timeouts == 3
    assert value(samples, "patchwire_tokens_total", **m, kind="input") == row.input_tokens == 600
    assert value(samples, "patchwire_tokens_total", **m, kind="output") == row.output_tokens == 120
    assert value(samples, "patchwire_cost_total", **m) == row.cost
    assert value(samples, "patchwire_cost_unknown_calls_total", **m) == row.cost_unknown == 2
    assert value(samples, "patchwire_cost_missing_rules_total", **m, rule="price") == 1
    assert value(samples, "patchwire_cost_missing_rules_total", **m, rule="service_tier") == 1
    assert value(samples, "patchwire_cost_missing_rules_total", **m, rule="other") == 1
    assert value(samples, "patchwire_cache_savings_total", **m) == pytest.approx(0.0025)
    assert value(samples, "patchwire_tool_calls_total", **m) == row.tool_calls == 5
    assert value(samples, "patchwire_invalid_outputs_total", **m, kind="output") == 2
    assert value(samples, "patchwire_invalid_outputs_total", **m, kind="tool_arguments") == 1
    assert value(samples, "patchwire_retries_total", **m, category="transient") == 1
    assert value(samples, "patchwire_retries_total", **m, category="other") == 1
    by_operation = "patchwire_operation_calls_total"
    assert value(samples, by_operation, **m, operation="complete", outcome="succeeded") == 7
    assert value(samples, by_operation, **m, operation="complete", outcome="failed") == 3
    other = {"connector": "openai", "model": "gpt-4o"}
    assert value(samples, by_operation, **other, operation="stream", outcome="succeeded") == 1
    assert value(samples, by_operation, **other, operation="tool:search", outcome="failed") == 1
    assert value(samples, "patchwire_limiter_queue_depth", connector="openai", model="") == 4
    assert value(samples, "patchwire_retry_delay_seconds_total", **m) == 0.75
    assert value(samples, "patchwire_fallbacks_total", **m) == 1
    assert value(samples, "patchwire_cache_hits_total", **m) == 1
    assert value(samples, "patchwire_cache_misses_total", **m) == 2
    assert value(samples, "patchwire_limiter_waits_total", **m) == 2
    assert value(samples, "patchwire_limiter_wait_seconds_total", **m) == pytest.approx(1.5)
    assert value(samples, "patchwire_limiter_wait_max_seconds", **m) == 1.1
    assert value(samples, "patchwire_limiter_refused_total", **m) == 1
    assert value(samples, "patchwire_embedding_batches_total", **m) == 1
    assert value(samples, "patchwire_embedding_batch_items_total", **m) == 7
    assert value(samples, "patchwire_quota_limit", **c, resource="requests") == 500
    assert value(samples, "patchwire_quota_remaining", **c, resource="tokens") == 9000
    assert value(samples, "patchwire_quota_used_ratio", **c) == pytest.approx(0.75)
    assert shared.quota.used_pct == pytest.approx(75.0)
    assert value(samples, "patchwire_breaker_state", **c, state="open") == 1
    assert value(samples, "patchwire_breaker_state", **c, state="closed") == 0
    assert value(samples, "patchwire_breaker_state", **c, state="half_open") == 0
    assert value(samples, "patchwire_breaker_transitions_total", **c) == 1
    assert value(samples, "patchwire_credential_events_total", **c, kind="refreshed") == 1
    assert value(samples, "patchwire_credential_events_total", **c, kind="acquired") == 1
    assert value(samples, "patchwire_event_sink_failures_total", sink="plugin:broken") == 2


def test_latency_is_a_cumulative_histogram_with_exact_count_and_sum() -> None:
    snapshot = busy_snapshot()
    row = snapshot.for_model("openai", "gpt-4o-mini")
    buckets = (0.01, 0.1, 0.5, 2.0, 60.0)
    samples = parsed(snapshot, buckets)
    m = {"connector": "openai", "model": "gpt-4o-mini"}
    got = [
        value(samples, "patchwire_call_duration_seconds_bucket", **m, le=le)
        for le in ("0.01", "0.1", "0.5", "2.0", "60.0", "+Inf")
    ]
    # 0.002 (cached), 0.005, 0.05, 0.3, 0.3, 1.5 and 100: none lies near a bound.
    assert got == [2, 3, 5, 6, 6, 7]
    assert value(samples, "patchwire_call_duration_seconds_count", **m) == row.latency.count == 7
    assert value(samples, "patchwire_call_duration_seconds_sum", **m) == row.latency.sum


def test_a_windowed_snapshot_is_refused_because_counters_must_not_go_down() -> None:
    clock = VirtualClock()
    aggregator = MetricsAggregator(clock)
    collector = PatchwireCollector(lambda: aggregator.snapshot(window=60.0))
    with pytest.raises(ValueError, match="running totals"):
        list(collector.collect())


@pytest.mark.parametrize("text", ["0.5,0.1", "1,abc", "0,1", "1,inf", ","])
def test_bad_bucket_setting_names_the_variable_and_the_fix(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(BUCKETS_ENV, text)
    with pytest.raises(ValueError, match=f"{BUCKETS_ENV}=.*increasing seconds separated by commas"):
        buckets_from_environment()


def test_bucket_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BUCKETS_ENV, "0.5, 1, 30")
    assert buckets_from_environment() == (0.5, 1.0, 30.0)
    monkeypatch.delenv(BUCKETS_ENV)
    assert buckets_from_environment() == DEFAULT_BUCKETS


# --- labels come from bounded sources ---------------------------------------------------

texts = st.text(max_size=30)
counts = st.dictionaries(texts, st.integers(min_value=0, max_value=10**6), max_size=5)


@st.composite
def rows(draw: st.DrawFn) -> ConnectorMetrics:
    histogram = Histogram()
    for sample in draw(st.lists(st.floats(min_value=0, max_value=1e5), max_size=5)):
        histogram.record(sample)
    return ConnectorMetrics(
        connector=draw(st.sampled_from(["openai", "backup", "web"])),
        model=draw(st.sampled_from([None, "gpt-4o-mini", "claude-haiku-4-5"])),
        succeeded=draw(st.integers(min_value=0, max_value=100)),
        errors=draw(counts),
        attempt_errors=draw(counts),
        credential_events=draw(counts),
        cost_missing=draw(
            st.dictionaries(
                st.one_of(texts, st.sampled_from(["price", "service_tier:x", "per_unit:y"])),
                st.integers(min_value=0, max_value=10**6),
                max_size=5,
            )
        ),
        invalid_outputs=draw(
            st.dictionaries(
                st.one_of(texts, st.sampled_from(["output", "tool_arguments"])),
                st.integers(min_value=0, max_value=10**6),
                max_size=3,
            )
        ),
        tool_calls=draw(st.integers(min_value=0, max_value=100)),
        calls_by_operation=draw(
            st.dictionaries(
                st.one_of(
                    texts, st.sampled_from(["complete", "embed"]), texts.map("tool:".__add__)
                ),
                st.integers(min_value=0, max_value=10**6),
                max_size=4,
            )
        ),
        retries_by_category=draw(counts),
        cache_savings=draw(st.floats(min_value=0, max_value=1e3)),
        timeouts_by_operation=draw(
            st.dictionaries(
                st.one_of(
                    texts, st.sampled_from(["complete", "tool:search"]), texts.map("tool:".__add__)
                ),
                st.integers(min_value=0, max_value=10**6),
                max_size=5,
            )
        ),
        latency=LatencyMetrics.of(histogram),
        breaker=BreakerMetrics(
            state=draw(st.one_of(st.none(), texts, st.sampled_from(labels.BREAKER_STATES)))
        ),
        quota=QuotaMetrics(
            requests_limit=draw(st.one_of(st.none(), st.floats(min_value=1, max_value=1e6))),
            requests_remaining=draw(st.one_of(st.none(), st.floats(min_value=0, max_value=1e6))),
            requests_reset=draw(st.one_of(st.none(), texts)),
            tokens_reset=draw(st.one_of(st.none(), texts)),
        ),
    )


def _unique_rows(found: list[ConnectorMetrics]) -> list[ConnectorMetrics]:
    seen: dict[tuple[str, str | None], ConnectorMetrics] = {}
    for row in found:
        seen.setdefault((row.connector, row.model), row)
    return list(seen.values())


FIXED: Mapping[str, frozenset[str]] = {
    "outcome": labels.OUTCOMES,
    "category": labels.CATEGORIES | {""},
    "kind": labels.TOKEN_KINDS | labels.CREDENTIAL_KINDS | labels.INVALID_KINDS,
    "rule": labels.COST_RULES,
    "resource": labels.QUOTA_RESOURCES,
    "state": frozenset(labels.BREAKER_STATES),
}


@given(found=st.lists(rows(), max_size=4), sinks=st.sampled_from([{}, {"plugin:x": 1}]))
def test_no_label_value_comes_from_an_unbounded_source(
    found: list[ConnectorMetrics], sinks: dict[str, int]
) -> None:
    """Label values are the row's connector and model, a sink name, a bucket bound, or a
    word of the fixed vocabulary, so series stay bounded by rows times a constant."""
    unique = _unique_rows(found)
    snapshot = MetricsSnapshot(connectors=tuple(unique), sink_failures=sinks)
    samples = parsed(snapshot)
    bounds = {str(b) for b in DEFAULT_BUCKETS} | {"+Inf"}
    per_row = (
        28
        + 2 * len(DEFAULT_BUCKETS)
        + 2 * len(labels.CATEGORIES)
        + len(labels.CREDENTIAL_KINDS)
        + len(labels.COST_RULES)
        + len(labels.INVALID_KINDS)
        + len(labels.CATEGORIES)  # retries by cause
        + 2 * len(labels.OPERATIONS)  # calls by operation and outcome
    )
    tools = sum(len(row.timeouts_by_operation) + 2 * len(row.calls_by_operation) for row in unique)
    assert len(samples) <= per_row * len(unique) + tools + len(sinks)
    # A tool operation keeps its name only when the application called it by that name.
    called = {op for row in unique for op in (*row.timeouts_by_operation, *row.calls_by_operation)}
    for _, pairs in samples:
        for name, label_value in pairs:
            if name == "connector":
                assert label_value in {row.connector for row in unique}
            elif name == "model":
                assert label_value in {row.model or "" for row in unique}
            elif name == "sink":
                assert label_value in sinks
            elif name == "le":
                assert label_value in bounds
            elif name == "operation":
                assert label_value in labels.OPERATIONS or (
                    label_value in called
                    and re.fullmatch(r"tool:[\w.\-]{1,64}", label_value, re.ASCII)
                ), label_value
            else:
                assert label_value in FIXED[name], (name, label_value)


# --- the distribution ---------------------------------------------------------------------


def test_the_entry_point_names_the_plugin_object() -> None:
    (entry,) = [e for e in metadata.entry_points(group="patchwire") if e.name == "prometheus"]
    assert entry.dist is not None and entry.dist.name == "patchwire-prometheus"
    assert entry.load() is plugin


def test_a_plugin_host_registers_the_prometheus_format_at_metrics() -> None:
    host = PluginHost(allowlist=["patchwire-prometheus"], strict=True)
    exposition = host.registries.metrics_formats["/metrics"]
    assert exposition.content_type.startswith("text/plain; version=0.0.4")
    assert exposition.plugin == "prometheus"


def test_a_bad_bucket_setting_is_reported_as_the_plugins_load_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(BUCKETS_ENV, "5,1")
    host = PluginHost(allowlist=["patchwire-prometheus"])
    assert "/metrics" not in host.registries.metrics_formats  # core's table stays there
    (info,) = [p for p in host.describe() if p.distribution == "patchwire-prometheus"]
    assert info.error is not None and BUCKETS_ENV in info.error


@pytest.mark.integration  # a fresh interpreter, to see what importing the entry point loads
def test_the_entry_point_module_does_not_import_prometheus_client() -> None:
    probe = "import sys, patchwire_prometheus.plugin; print('prometheus_client' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.integration  # a real metrics server and the real command in a child process
@pytest.mark.parametrize("path", ["", "/metrics", "/metrics.txt", "/metrics.json"])
async def test_patchwire_stats_reads_any_endpoint_while_metrics_is_prometheus(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    import aiohttp
    from patchwire.hub import Hub
    from patchwire_prometheus.exposition import CONTENT_TYPE

    host = PluginHost(allowlist=["patchwire-prometheus"], strict=True)
    async with Hub.from_dict({}, host=host) as hub:
        hub.bus.emit(Event(EventKind.CALL_SUCCEEDED, "toy", "model-x", duration=0.2))
        server = await hub.serve_metrics(port=0)
        async with aiohttp.ClientSession() as session, session.get(server.url + "/metrics") as r:
            assert r.headers["Content-Type"] == CONTENT_TYPE
            assert 'patchwire_calls_total{category="",connector="toy"' in await r.text()
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "patchwire",
            "stats",
            "--url",
            server.url + path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await child.communicate()
    assert child.returncode == 0, err.decode()
    assert "toy:model-x" in out.decode()
