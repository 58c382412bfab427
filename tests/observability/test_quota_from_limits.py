"""Quota visibility without provider headers (issue 14 item 10): when a provider reports no
rate-limit headers (Gemini) or the budget is one the operator configured (a daily budget in
``[limits]``), ``quota %`` comes from the configured windows, the most-used one winning;
a provider's own report still wins over it. Fake connector and virtual clock, then the
Gemini plugin against the simulator on loopback."""

from __future__ import annotations

from typing import Any

import pytest
from patchwire.connector import Attempt
from patchwire.hub import Hub
from patchwire.limiter import RateLimitInfo
from patchwire.metrics import MetricsSnapshot
from patchwire.plugins import PluginHost
from patchwire.testing import FakeScript
from patchwire.testing.simulator import Simulator
from patchwire_gemini.plugin import GeminiPlugin


def quota_cell(table: str, name: str) -> str:
    header, *rows = table.splitlines()[1:]
    end = header.index("quota %") + len("quota %")  # cells are right-aligned under labels
    (row,) = [r for r in rows if r.split()[0] == name]
    return row[end - 7 : end].strip()


async def test_a_daily_budget_shows_as_quota_without_provider_headers(
    plugin_host, virtual_clock, fake_scripts
):
    fake_scripts["fake"] = FakeScript(default="ok")
    config = {"connectors": {"fake": {"limits": {"requests_per_day": 10}}}}
    async with Hub.from_dict(config, host=plugin_host, clock=virtual_clock) as hub:
        assert hub.metrics().connectors == ()
        for _ in range(4):
            await hub.model("fake:m").complete("q")
        snapshot = hub.metrics()
        usage = hub.model("fake:m").usage()
    row = snapshot.for_model("fake", "m")
    assert row.quota.used_pct == pytest.approx(40.0, abs=0.01)
    assert usage.quota.used_pct == pytest.approx(40.0, abs=0.01)
    assert quota_cell(snapshot.render_table(), "fake:m") == "40.0"
    exported = snapshot.to_dict()["connectors"][0]["quota"]
    assert exported["used_pct"] == pytest.approx(40.0, abs=0.01)
    assert MetricsSnapshot.from_dict(snapshot.to_dict()).connectors[0].quota.used_pct == (
        pytest.approx(40.0, abs=0.01)
    )


async def test_the_most_used_configured_window_wins(plugin_host, virtual_clock, fake_scripts):
    fake_scripts["fake"] = FakeScript(default="ok")
    limits = {"requests_per_minute": 100, "tokens_per_day": 1000}
    config = {"connectors": {"fake": {"limits": limits}}}
    async with Hub.from_dict(config, host=plugin_host, clock=virtual_clock) as hub:
        for _ in range(2):
            await hub.model("fake:m").complete("q")  # 15 tokens each (FakeScript's usage)
        used = hub.metrics().for_model("fake", "m").quota.used_pct
    # Requests: 2 of 100 a minute (2 %); tokens: 30 of 1000 a day (3 %).
    assert used == pytest.approx(3.0, abs=0.01)


async def test_the_providers_own_report_wins_over_the_configured_windows(
    plugin_host, virtual_clock, fake_scripts
):
    def reports(request: Any, attempt: Attempt) -> str:
        assert attempt.report_limits is not None
        attempt.report_limits(RateLimitInfo(requests_limit=100, requests_remaining=90))
        return "ok"

    fake_scripts["fake"] = FakeScript(default=reports)
    config = {"connectors": {"fake": {"limits": {"requests_per_day": 10}}}}
    async with Hub.from_dict(config, host=plugin_host, clock=virtual_clock) as hub:
        for _ in range(4):
            await hub.model("fake:m").complete("q")
        quota = hub.metrics().for_model("fake", "m").quota
    assert quota.used_pct == pytest.approx(10.0)
    assert quota.limiter_used_pct is not None


async def test_without_limits_the_quota_stays_unknown(plugin_host, virtual_clock, fake_scripts):
    fake_scripts["fake"] = FakeScript(default="ok")
    async with Hub.from_dict(
        {"connectors": {"fake": {}}}, host=plugin_host, clock=virtual_clock
    ) as hub:
        await hub.model("fake:m").complete("q")
        snapshot = hub.metrics()
    assert snapshot.for_model("fake", "m").quota.used_pct is None
    assert quota_cell(snapshot.render_table(), "fake:m") == "-"


@pytest.mark.integration  # real HTTP on loopback against the simulator
async def test_gemini_sends_no_quota_headers_and_its_configured_quota_shows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GEMINI_TEST_KEY", "gemini-test-key-0d1e")
    host = PluginHost(load_entry_points=False)
    host.register(GeminiPlugin(), "gemini")
    async with Simulator("gemini", keys=["gemini-test-key-0d1e"], seed=3, plugin_host=host) as sim:
        table = {
            "base_url": sim.base_url,
            "api_key": "env:GEMINI_TEST_KEY",
            "limits": {"requests_per_day": 250},
        }
        async with Hub.from_dict({"connectors": {"gemini": table}}, host=host) as hub:
            model = hub.model("gemini:gemini-2.5-flash")
            for _ in range(5):
                await model.complete("Hi")
            row = hub.metrics().for_model("gemini", "gemini-2.5-flash")
    assert row.quota.requests_limit is None and row.quota.tokens_limit is None
    assert row.quota.used_pct == pytest.approx(2.0, abs=0.01)
