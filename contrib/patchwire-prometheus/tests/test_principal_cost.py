"""Cost by declared tag value (always) and by principal (only when configured) in the
Prometheus text, read back with ``prometheus_client.parser``: the values are the snapshot's,
principal ids appear only on request (hashed or as given), and the series stay bounded by
the caps whatever principals the application invents."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.clock import VirtualClock
from patchwire.errors import ConfigError
from patchwire.events import Event, EventKind
from patchwire.hub import Hub
from patchwire.metrics import MetricsAggregator, MetricsSnapshot
from patchwire.metrics.cap import OVERFLOW
from patchwire.plugins import PluginHost
from patchwire.principals import Principal
from patchwire.testing.simulator import Simulator
from patchwire_prometheus.collector import DEFAULT_BUCKETS, PatchwireCollector
from patchwire_prometheus.exposition import renderer
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def parsed(snapshot: MetricsSnapshot, principal_label: str = "none") -> Samples:
    return parse(renderer(DEFAULT_BUCKETS, principal_label)(snapshot).decode())


def by_label(samples: Samples, name: str, label: str) -> dict[str, float]:
    return {dict(pairs)[label]: v for (n, pairs), v in samples.items() if n == name}


def snapshot_of(
    calls: list[tuple[str | None, str | None, float | None]],
    max_principals: int = 1000,
    max_tag_values: int = 100,
) -> MetricsSnapshot:
    aggregator = MetricsAggregator(
        VirtualClock(), max_principals=max_principals, max_tag_values=max_tag_values
    )
    for who, team, cost in calls:
        data: dict[str, object] = {}
        if who is not None:
            data = {"principal": who, "tags": {"team": team} if team else {}}
        aggregator(
            Event(
                EventKind.CALL_SUCCEEDED,
                "openai",
                "gpt-4o-mini",
                input_tokens=10,
                output_tokens=2,
                cost=cost,
                data=data,
            )
        )
    return aggregator.snapshot()


CALLS: list[tuple[str | None, str | None, float | None]] = [
    ("alice@example.com", "search", 0.5),
    ("alice@example.com", "search", None),
    ("bob", "ads", 0.25),
    (None, None, 0.125),
]


def test_cost_is_exported_per_declared_tag_value_and_no_principal_id_by_default() -> None:
    snapshot = snapshot_of(CALLS)
    samples = parsed(snapshot)
    cost = by_label(samples, "patchwire_tag_cost_total", "value")
    assert cost == {"search": 0.5, "ads": 0.25}
    unknown = by_label(samples, "patchwire_tag_cost_unknown_calls_total", "value")
    assert unknown == {"search": 1, "ads": 0}
    key = (("kind", "input"), ("tag", "team"), ("value", "search"))
    assert samples[("patchwire_tag_tokens_total", key)] == 20
    assert all(name != "principal" for _, pairs in samples for name, _ in pairs)
    assert not any(n.startswith("patchwire_principal_") for n, _ in samples)
    assert (
        sum(cost.values()) + 0.125
        == samples[("patchwire_cost_total", (("connector", "openai"), ("model", "gpt-4o-mini")))]
    )


def test_principal_series_are_opt_in_hashed_or_as_given_and_sum_to_the_whole_cost() -> None:
    snapshot = snapshot_of(CALLS)
    hashed = by_label(parsed(snapshot, "hash"), "patchwire_principal_cost_total", "principal")
    alice = hashlib.sha256(b"alice@example.com").hexdigest()[:16]
    assert hashed[alice] == 0.5 and hashed[""] == 0.125
    assert all(re.fullmatch(r"[0-9a-f]{16}", k) for k in hashed if k)
    assert "alice@example.com" not in renderer(DEFAULT_BUCKETS, "hash")(snapshot).decode()
    named = by_label(parsed(snapshot, "id"), "patchwire_principal_cost_total", "principal")
    assert named == {"alice@example.com": 0.5, "bob": 0.25, "": 0.125}
    assert sum(named.values()) == sum(row.cost for row in snapshot.connectors)


def test_a_windowed_view_or_an_older_snapshot_adds_no_family() -> None:
    snapshot = snapshot_of(CALLS)
    older = MetricsSnapshot(connectors=snapshot.connectors)
    assert not any(
        n.startswith(("patchwire_tag_", "patchwire_principal_")) for n, _ in parsed(older, "id")
    )


def test_a_collector_refuses_an_unknown_principal_label() -> None:
    with pytest.raises(ValueError, match="none, hash, id"):
        PatchwireCollector(lambda: snapshot_of([]), principal_label="email")


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.none() | st.text("abcxyz", min_size=1, max_size=4),
            st.none() | st.text("pqrs", min_size=1, max_size=3),
            st.none() | st.integers(0, 100).map(lambda n: n / 64),
        ),
        max_size=60,
    ),
    st.integers(0, 4),
    st.integers(0, 3),
)
def test_series_never_exceed_the_caps_plus_overflow(
    calls: list[tuple[str | None, str | None, float | None]], principals: int, values: int
) -> None:
    snapshot = snapshot_of(calls, max_principals=principals, max_tag_values=values)
    samples = parsed(snapshot, "id")
    who = by_label(samples, "patchwire_principal_cost_total", "principal")
    assert len(set(who) - {OVERFLOW, ""}) <= principals
    tagged = by_label(samples, "patchwire_tag_cost_total", "value")
    assert len(set(tagged) - {OVERFLOW}) <= values
    # The whole cost is there, once, whatever was folded.
    if who:
        assert sum(who.values()) == sum(row.cost for row in snapshot.connectors)


def test_a_bad_principal_label_fails_at_load_naming_the_table_and_key(
    prometheus_host: PluginHost,
) -> None:
    with pytest.raises(ConfigError) as info:
        Hub.from_dict(
            {"connectors": {"fake": {}}, "exporters": {"prometheus": {"principal_label": "email"}}},
            host=prometheus_host,
        )
    message = str(info.value)
    assert "[exporters.prometheus]" in message and "principal_label" in message
    assert "'hash'" in message


@pytest.mark.integration
async def test_a_hub_serving_metrics_exports_cost_by_tag_and_hashed_principal(
    prometheus_host: PluginHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hub with principals calls the OpenAI simulator on loopback and serves /metrics;
    the scraped text says what hub.metrics() says (real sockets, the real clock)."""
    monkeypatch.setenv("PROM_PRINCIPAL_KEY", "sk-prom-principal-test")
    config: dict[str, Any] = {
        "principals": {"tags": ["team"]},
        "exporters": {"prometheus": {"principal_label": "hash"}},
    }
    async with Simulator(
        "openai", plugin_host=prometheus_host, keys=["sk-prom-principal-test"]
    ) as sim:
        config["connectors"] = {
            "openai": {"base_url": sim.base_url, "api_key": "env:PROM_PRINCIPAL_KEY", "timeout": 5}
        }
        async with Hub.from_dict(config, host=prometheus_host) as hub:
            model = hub.model("openai:gpt-4o-mini")
            for who, team in (("carol@example.com", "search"), ("dan", "ads"), ("erin", "ads")):
                await model.complete(
                    "hi", max_tokens=10, principal=Principal(who, tags={"team": team})
                )
            await model.complete("service", max_tokens=10)
            server = await hub.serve_metrics(port=0, host="127.0.0.1")
            async with aiohttp.ClientSession() as session:
                async with session.get(f"{server.url}/metrics") as response:
                    text = await response.text()
            snapshot = hub.metrics()
    assert snapshot.principals is not None
    samples = parse(text)
    tagged = by_label(samples, "patchwire_tag_cost_total", "value")
    expected = snapshot.principals.by_tag["team"]
    assert tagged == pytest.approx({v: s.cost for v, s in expected.items()})
    assert tagged["ads"] > 0
    hashed = by_label(samples, "patchwire_principal_cost_total", "principal")
    assert len(hashed) == 4 and "carol@example.com" not in text
    assert sum(hashed.values()) == pytest.approx(sum(row.cost for row in snapshot.connectors))
