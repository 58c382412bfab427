"""``[exporters.prometheus]``: the latency buckets from the configuration, checked at load,
with ``PATCHWIRE_PROMETHEUS_BUCKETS`` as an override (issue 17 item 4)."""

from __future__ import annotations

from typing import Any

import pytest
from patchwire.errors import ConfigError
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.testing import FakeScript
from patchwire_prometheus.exposition import BUCKETS_ENV
from patchwire_prometheus.plugin import PrometheusPlugin


def served_bounds(host: PluginHost, hub: Hub) -> list[str]:
    body = host.registries.metrics_formats["/metrics"].render(hub.metrics())
    text = body.decode() if isinstance(body, bytes) else body
    return sorted(
        {
            line.split('le="')[1].split('"')[0]
            for line in text.splitlines()
            if line.startswith("patchwire_call_duration_seconds_bucket")
        }
    )


def hub_with(host: PluginHost, exporters: dict[str, Any]) -> Hub:
    return Hub.from_dict(
        {"connectors": {"fake": {"cache": {"ttl": 0}}}, "exporters": exporters}, host=host
    )


async def test_buckets_come_from_the_exporters_table(
    prometheus_host: PluginHost, fake_scripts: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(BUCKETS_ENV, raising=False)
    fake_scripts["fake"] = FakeScript(default="ok")
    async with hub_with(prometheus_host, {"prometheus": {"buckets": [0.25, 1, 4]}}) as hub:
        await hub.model("fake:m").complete("q")
        assert served_bounds(prometheus_host, hub) == ["+Inf", "0.25", "1.0", "4.0"]


async def test_the_environment_overrides_the_table(
    plugin_host: PluginHost, fake_scripts: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(BUCKETS_ENV, "0.5,8")
    plugin_host.register(PrometheusPlugin(), "prometheus")  # reads the variable as it loads
    fake_scripts["fake"] = FakeScript(default="ok")
    async with hub_with(plugin_host, {"prometheus": {"buckets": [0.25, 1, 4]}}) as hub:
        await hub.model("fake:m").complete("q")
        assert served_bounds(plugin_host, hub) == ["+Inf", "0.5", "8.0"]


@pytest.mark.parametrize(
    ("table", "key", "words"),
    [
        ({"buckets": [1, 0.5]}, "buckets", "increase strictly"),
        ({"buckets": ["1", "2"]}, "buckets", "numbers of seconds"),
        ({"buckets": [True]}, "buckets", "numbers of seconds"),
        ({"buckets": []}, "buckets", "at least one"),
        ({"buckets": 5}, "buckets", "a list"),
        ({"bucket": [1]}, "bucket", "did you mean 'buckets'"),
    ],
)
def test_a_bad_table_fails_at_load_naming_the_table_and_key(
    prometheus_host: PluginHost, table: dict[str, Any], key: str, words: str
) -> None:
    with pytest.raises(ConfigError) as info:
        hub_with(prometheus_host, {"prometheus": table})
    message = str(info.value)
    assert "[exporters.prometheus]" in message and key in message and words in message


def test_a_table_for_an_exporter_not_installed_fails_naming_the_installed_ones(
    prometheus_host: PluginHost,
) -> None:
    with pytest.raises(
        ConfigError, match=r"no installed plugin takes \[exporters.statsd\].*prometheus"
    ):
        hub_with(prometheus_host, {"statsd": {}})
