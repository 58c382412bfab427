"""Cost as OpenTelemetry counters (``patchwire.client.cost``, ``patchwire.client.cost.unknown``)
with the principal's declared tags, read back with the SDK's in-memory metric reader.

Hubs run on the virtual clock with the test kit's fake connector and a configured price;
each test uses its own model names, since the global meter provider's counters are
cumulative across the tests of the process.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from patchwire.clock import VirtualClock
from patchwire.errors import ConfigError
from patchwire.events import Event, EventKind
from patchwire.hub import Hub
from patchwire.metrics.cap import OVERFLOW, pseudonym
from patchwire.plugins import PluginHost
from patchwire.principals import Principal
from patchwire.testing import FakeScript
from patchwire_otel.cost import COST, COST_UNKNOWN, PRINCIPAL_ID, TAG_PREFIX, CostCounters

# The conftest fixture's value: the in-memory span exporter and metric reader.
Telemetry = Any

ALICE = Principal("alice@example.com", tags={"team": "search", "undeclared": "u1"})
BOB = Principal("bob", tags={"team": "ads"})


def points(reader: InMemoryMetricReader, name: str, model: str | None = None) -> list[Any]:
    """The data points of ``name`` (for ``model``'s calls, when given)."""
    data = reader.get_metrics_data()
    if data is None:
        return []
    return [
        point
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == name
        for point in metric.data.data_points
        if model is None or (point.attributes or {}).get("gen_ai.request.model") == model
    ]


def config(model: str, **exporter: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "connectors": {"fake": {"cache": {"ttl": 0}}},
        "prices": {f"fake:{model}": {"input": 3.0, "output": 15.0}},
        "principals": {"tags": ["team"]},
    }
    if exporter:
        out["exporters"] = {"otel": exporter}
    return out


async def test_cost_counts_by_declared_tag_and_names_no_principal_by_default(
    otel_host: PluginHost,
    telemetry: Telemetry,
    virtual_clock: VirtualClock,
    fake_scripts: dict[str, FakeScript],
) -> None:
    fake_scripts["fake"] = FakeScript(default="an answer of some words")
    model = "cost-model-a"
    async with Hub.from_dict(config(model), host=otel_host, clock=virtual_clock) as hub:
        priced = hub.model(f"fake:{model}")
        alice = await priced.complete("hi", principal=ALICE)
        bob = await priced.complete("hello there", principal=BOB)
        service = await priced.complete("hi")
        await hub.model("fake:cost-model-a-unpriced").complete("hi", principal=ALICE)
        row = hub.metrics().for_model("fake", model)
    cost = {
        p.attributes.get(TAG_PREFIX + "team"): p.value
        for p in points(telemetry.metrics, COST, model)
    }
    assert cost == pytest.approx({"search": alice.cost, "ads": bob.cost, None: service.cost})
    assert sum(cost.values()) == pytest.approx(row.cost) and row.cost > 0
    (unknown,) = points(telemetry.metrics, COST_UNKNOWN, "cost-model-a-unpriced")
    assert unknown.value == 1 and unknown.attributes[TAG_PREFIX + "team"] == "search"
    for point in points(telemetry.metrics, COST, model):
        assert PRINCIPAL_ID not in point.attributes
        assert TAG_PREFIX + "undeclared" not in point.attributes
        assert point.attributes["gen_ai.operation.name"] == "chat"


async def test_the_principal_id_is_an_attribute_only_when_configured_and_then_hashed(
    otel_host: PluginHost,
    telemetry: Telemetry,
    virtual_clock: VirtualClock,
    fake_scripts: dict[str, FakeScript],
) -> None:
    fake_scripts["fake"] = FakeScript(default="ok")
    model = "cost-model-b"
    table = config(model, principal_attribute="hash")
    async with Hub.from_dict(table, host=otel_host, clock=virtual_clock) as hub:
        reply = await hub.model(f"fake:{model}").complete("hi", principal=ALICE)
    (point,) = points(telemetry.metrics, COST, model)
    assert point.attributes[PRINCIPAL_ID] == pseudonym("alice@example.com")
    assert point.value == pytest.approx(reply.cost)


def test_a_bad_principal_attribute_fails_at_load_naming_the_table_and_key(
    otel_host: PluginHost,
) -> None:
    with pytest.raises(ConfigError) as info:
        Hub.from_dict(config("m", principal_attribute="email"), host=otel_host)
    message = str(info.value)
    assert "[exporters.otel]" in message and "principal_attribute" in message


def test_cost_counters_refuse_an_unknown_mode() -> None:
    meter = MeterProvider(metric_readers=[InMemoryMetricReader()]).get_meter("t")
    with pytest.raises(ValueError, match="none, hash, id"):
        CostCounters(meter, principal_attribute="email")


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 30), st.integers(0, 9)), max_size=60),
    st.integers(0, 4),
    st.integers(0, 3),
)
def test_attribute_values_never_exceed_the_caps_plus_overflow(
    calls: list[tuple[int, int]], max_principals: int, max_tag_values: int
) -> None:
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("t")
    counters = CostCounters(
        meter,
        principal_attribute="id",
        max_principals=max_principals,
        max_tag_values=max_tag_values,
    )
    for who, team in calls:
        data = {"principal": f"user-{who}", "tags": {"team": f"t{team}"}}
        counters.record(Event(EventKind.CALL_SUCCEEDED, "c", "m", cost=0.25, data=data), {})
    found = [p.attributes for p in points(reader, COST)]
    assert len({a[PRINCIPAL_ID] for a in found} - {OVERFLOW}) <= max_principals
    assert len({a[TAG_PREFIX + "team"] for a in found} - {OVERFLOW}) <= max_tag_values
    total = sum(p.value for p in points(reader, COST))
    assert total == pytest.approx(0.25 * len(calls))
