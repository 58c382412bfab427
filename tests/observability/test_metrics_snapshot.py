from __future__ import annotations

import json

import pytest
from patchwire.clock import VirtualClock
from patchwire.events import Event, EventBus, EventKind
from patchwire.metrics import (
    BreakerMetrics,
    ConnectorMetrics,
    MetricsAggregator,
    MetricsSnapshot,
    QuotaMetrics,
)


def aggregator_with_traffic() -> tuple[MetricsAggregator, VirtualClock]:
    clock = VirtualClock(start=100.0)
    aggregator = MetricsAggregator(clock)
    for latency, cost in ((0.2, 0.002), (0.4, None), (0.3, 0.001)):
        aggregator(Event(EventKind.CALL_STARTED, "openai", "gpt-4o-mini"))
        aggregator(
            Event(
                EventKind.CALL_SUCCEEDED,
                "openai",
                "gpt-4o-mini",
                duration=latency,
                input_tokens=1000,
                output_tokens=50,
                cost=cost,
            )
        )
    aggregator(Event(EventKind.CALL_FAILED, "anthropic", "claude-haiku-4-5", category="auth"))
    aggregator(Event(EventKind.BREAKER_TRANSITION, "openai", data={"from": "closed", "to": "open"}))
    aggregator(
        Event(
            EventKind.QUOTA_REPORTED,
            "openai",
            data={"requests_limit": 500, "requests_remaining": 400, "limiter_used_pct": 35.0},
        )
    )
    clock.advance(10.0)
    return aggregator, clock


def test_for_model_inherits_the_connectors_breaker_and_quota() -> None:
    aggregator, _ = aggregator_with_traffic()
    row = aggregator.snapshot().for_model("openai", "gpt-4o-mini")
    assert row.succeeded == 3
    assert row.breaker.state == "open"
    assert row.breaker.transitions == 0  # the transition happened to the connector, not the model
    assert row.quota.requests_remaining == 400
    assert row.quota.used_pct == pytest.approx(20.0)  # the provider's view wins over the limiter's


def test_for_model_answers_an_empty_row_for_a_model_never_called() -> None:
    aggregator, _ = aggregator_with_traffic()
    row = aggregator.snapshot().for_model("anthropic", "claude-opus-4")
    assert row == ConnectorMetrics(connector="anthropic", model="claude-opus-4")
    assert row.calls == 0
    assert row.error_rate is None
    assert row.latency.p50 is None


def test_model_with_its_own_quota_keeps_it() -> None:
    clock = VirtualClock()
    aggregator = MetricsAggregator(clock)
    aggregator(
        Event(
            EventKind.QUOTA_REPORTED, "openai", data={"tokens_limit": 100, "tokens_remaining": 90}
        )
    )
    aggregator(
        Event(
            EventKind.QUOTA_REPORTED,
            "openai",
            "gpt-4o",
            data={"tokens_limit": 100, "tokens_remaining": 10},
        )
    )
    assert aggregator.snapshot().for_model("openai", "gpt-4o").quota.used_pct == pytest.approx(90.0)


def test_quota_keeps_each_field_as_last_reported_and_falls_back_to_the_limiter_view() -> None:
    clock = VirtualClock()
    aggregator = MetricsAggregator(clock)
    aggregator(Event(EventKind.QUOTA_REPORTED, "x", data={"limiter_used_pct": 12.5}))
    assert aggregator.snapshot().for_model("x", None).quota.used_pct == 12.5
    clock.advance(3.0)
    aggregator(
        Event(EventKind.QUOTA_REPORTED, "x", data={"tokens_limit": 10, "tokens_remaining": 5})
    )
    quota = aggregator.snapshot().for_model("x", None).quota
    assert quota == QuotaMetrics(
        tokens_limit=10, tokens_remaining=5, limiter_used_pct=12.5, reported_at=3.0
    )
    assert quota.used_pct == pytest.approx(50.0)


def test_malformed_event_data_is_ignored_not_exported() -> None:
    clock = VirtualClock()
    aggregator = MetricsAggregator(clock)
    aggregator(
        Event(
            EventKind.QUOTA_REPORTED,
            "x",
            data={
                "tokens_limit": "lots",
                "tokens_remaining": float("nan"),
                "requests_limit": True,
                "tokens_reset": "x" * 1000,
                "authorization": "Bearer sk-live",
            },
        )
    )
    aggregator(Event(EventKind.BREAKER_TRANSITION, "x", data={"to": {"nested": 1}}))
    aggregator(Event(EventKind.BATCH_SENT, "x", data={"size": "9"}))
    aggregator(Event(EventKind.CALL_SUCCEEDED, "x", duration=float("nan"), cost=float("inf")))
    row = aggregator.snapshot().for_model("x", None)
    assert row.quota == QuotaMetrics()
    assert row.breaker.state is None
    assert (row.batches, row.batched_items) == (1, 0)
    assert row.latency.count == 0
    assert row.cost == 0.0
    assert row.cost_unknown == 1
    text = json.dumps(aggregator.snapshot().to_dict(), allow_nan=False)
    assert "sk-live" not in text


def test_filters_select_rows_by_connector_and_model() -> None:
    aggregator, _ = aggregator_with_traffic()
    assert [r.name for r in aggregator.snapshot().connectors] == [
        "anthropic:claude-haiku-4-5",
        "openai",
        "openai:gpt-4o-mini",
    ]
    assert [r.name for r in aggregator.snapshot("openai").connectors] == [
        "openai",
        "openai:gpt-4o-mini",
    ]
    assert [r.name for r in aggregator.snapshot(model="claude-haiku-4-5").connectors] == [
        "anthropic:claude-haiku-4-5"
    ]


def test_render_table_shows_one_row_per_model_with_the_numbers_people_ask_for() -> None:
    aggregator, _ = aggregator_with_traffic()
    table = aggregator.snapshot().render_table()
    lines = table.splitlines()
    assert lines[0] == "patchwire metrics since start (10.0 s)"
    header = lines[1].split()
    for column in ("calls", "p50", "p95", "p99", "err", "retries", "cost", "cache", "quota"):
        assert column in header
    openai_row = next(line for line in lines if line.startswith("openai:gpt-4o-mini "))
    cells = openai_row.split()
    assert cells[1] == "3"  # calls
    assert float(cells[2]) == pytest.approx(300.0, rel=0.02)  # p50 ms of 0.2, 0.3, 0.4 s
    assert "3000" in cells  # input tokens
    assert "0.0030+?" in cells  # known cost, and one call whose price is unknown
    assert len({len(line) for line in lines[1:]}) == 1  # fixed width
    anthropic_row = next(line for line in lines if line.startswith("anthropic:"))
    assert "100.0" in anthropic_row.split()  # error %


def test_render_table_of_a_window_and_of_nothing() -> None:
    clock = VirtualClock()
    aggregator = MetricsAggregator(clock)
    table = aggregator.snapshot(window=60.0).render_table()
    assert table == "patchwire metrics, last 60 s\n(nothing recorded)\n"


def test_sink_failures_come_live_from_the_bus() -> None:
    clock = VirtualClock()
    bus = EventBus()
    aggregator = MetricsAggregator(clock, sink_failures=bus.sink_failures)
    bus.add("metrics", aggregator)

    def broken(event: Event) -> None:
        raise RuntimeError("exporter down")

    bus.add("exporter", broken)
    bus.emit(Event(EventKind.CALL_STARTED, "openai", "gpt-4o"))
    bus.emit(Event(EventKind.CALL_STARTED, "openai", "gpt-4o"))
    snapshot = aggregator.snapshot()
    assert dict(snapshot.sink_failures) == {"exporter": 2}
    assert snapshot.for_model("openai", "gpt-4o").started == 2
    assert "sink failures: exporter=2" in snapshot.render_table()


def test_reset_forgets_everything_and_restarts_the_clock_of_since() -> None:
    aggregator, clock = aggregator_with_traffic()
    aggregator.reset()
    snapshot = aggregator.snapshot()
    assert snapshot.connectors == ()
    assert snapshot.since == clock.now()
    assert aggregator.snapshot(window=60.0).connectors == ()


def test_snapshot_values_are_immutable() -> None:
    aggregator, _ = aggregator_with_traffic()
    row = aggregator.snapshot().for_model("anthropic", "claude-haiku-4-5")
    with pytest.raises(TypeError):
        row.errors["auth"] = 0  # type: ignore[index]
    assert dict(row.errors) == {"auth": 1}


def test_with_sink_failures_replaces_the_counts_and_keeps_the_rest() -> None:
    aggregator, _ = aggregator_with_traffic()
    snapshot = aggregator.snapshot()
    updated = snapshot.with_sink_failures({"otel": 3})
    assert dict(updated.sink_failures) == {"otel": 3}
    assert updated.connectors == snapshot.connectors


def route_snapshot() -> tuple[MetricsAggregator, list[MetricsSnapshot]]:
    clock = VirtualClock()
    aggregator = MetricsAggregator(clock)
    for connector, model, latency in (
        ("openai", "gpt-4o-mini", 0.1),
        ("anthropic", "claude-haiku-4-5", 0.9),
    ):
        aggregator(Event(EventKind.CALL_SUCCEEDED, connector, model, duration=latency, cost=0.5))
    aggregator(
        Event(
            EventKind.BREAKER_TRANSITION,
            "openai",
            "gpt-4o-mini",
            data={"from": "closed", "to": "open"},
        )
    )
    aggregator(
        Event(
            EventKind.BREAKER_TRANSITION,
            "anthropic",
            "claude-haiku-4-5",
            data={"from": "open", "to": "half_open"},
        )
    )
    aggregator(
        Event(
            EventKind.QUOTA_REPORTED,
            "anthropic",
            "claude-haiku-4-5",
            data={"tokens_limit": 100, "tokens_remaining": 5},
        )
    )
    aggregator(
        Event(
            EventKind.QUOTA_REPORTED,
            "openai",
            "gpt-4o-mini",
            data={"tokens_limit": 100, "tokens_remaining": 50},
        )
    )
    parts = [
        aggregator.snapshot("openai", "gpt-4o-mini"),
        aggregator.snapshot("anthropic", "claude-haiku-4-5"),
    ]
    return aggregator, parts


def test_combining_a_routes_targets_names_them_and_shows_the_worst_state() -> None:
    _, parts = route_snapshot()
    row = MetricsSnapshot.combine(parts)
    assert row.name == "openai+anthropic:gpt-4o-mini+claude-haiku-4-5"
    assert row.succeeded == 2
    assert row.cost == 1.0
    assert row.breaker == BreakerMetrics(state="open", transitions=2)
    assert row.quota.used_pct == pytest.approx(95.0)
    assert row.latency.p50 == pytest.approx(0.1, rel=0.02)
    assert row.latency.p99 == pytest.approx(0.9, rel=0.02)
    assert MetricsSnapshot.combine(parts, connector="route", model="fast").name == "route:fast"


def test_combining_one_row_or_none() -> None:
    aggregator, parts = route_snapshot()
    only = MetricsSnapshot.combine(parts[:1])
    assert only == aggregator.snapshot().for_model("openai", "gpt-4o-mini")
    nothing = MetricsSnapshot.combine(
        [aggregator.snapshot("mistral")], connector="mistral", model="m"
    )
    assert nothing == ConnectorMetrics(connector="mistral", model="m")


def test_rows_rebuilt_from_json_combine_counts_but_not_quantiles() -> None:
    _, parts = route_snapshot()
    rebuilt = [MetricsSnapshot.from_dict(json.loads(json.dumps(p.to_dict()))) for p in parts]
    latency = MetricsSnapshot.combine(rebuilt).latency
    assert (latency.count, latency.max) == (2, 0.9)
    assert latency.sum == pytest.approx(1.0)
    assert latency.p50 is None
