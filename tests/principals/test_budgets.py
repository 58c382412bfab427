"""Per-principal budgets through the hub: fail fast at the limit, naming the budget and
when it resets, without touching the provider; reset on the window; spend reconciled.

Virtual time (the hub's wall time stands in for the clock it is given), the fake
connector; no network.
"""

from __future__ import annotations

from typing import Any

import pytest
from patchwire import Principal, QuotaExhaustedError
from patchwire.clock import VirtualClock
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.testing import FakeScript


def _hub(host: PluginHost, clock: VirtualClock, budgets: dict[str, Any], **extra: Any) -> Hub:
    return Hub.from_dict(
        {
            "connectors": {"fake": {"cache": {"ttl": 0}}},
            "prices": {"fake:m": {"input": 1.0, "output": 2.0}},
            "principals": {"tags": ["team", "plan"], "budgets": budgets, **extra},
        },
        host=host,
        clock=clock,
    )


FREE = Principal("alice", tags={"plan": "free", "team": "search"})
PRO = Principal("bob", tags={"plan": "pro", "team": "search"})


async def test_budget_stops_a_principal_at_the_limit_without_calling_the_provider(
    plugin_host: PluginHost, fake_scripts: dict[str, FakeScript]
) -> None:
    clock = VirtualClock(start=30.0)
    script = fake_scripts["fake"] = FakeScript(default="ok")
    async with _hub(
        plugin_host, clock, {"free": {"tag": "plan=free", "requests_per_minute": 3}}
    ) as hub:
        model = hub.model("fake:m")
        for _ in range(3):
            await model.complete("hi", principal=FREE)
        with pytest.raises(QuotaExhaustedError) as caught:
            await model.complete("hi", principal=FREE)
        assert len(script.calls) == 3  # the refused call never reached the provider
        for _ in range(5):  # another plan is not limited by it
            await model.complete("hi", principal=PRO)
        clock.advance(30.0)  # the minute turns at t=60
        await model.complete("hi", principal=FREE)
        usage = hub.usage(principal=FREE)
        team = hub.usage(tag=("team", "search"))
    err = caught.value
    assert "budget 'free'" in err.message and "principal 'alice'" in err.message
    assert "3 of 3 requests this minute" in err.message and "resets in 30 s" in err.message
    assert err.retry_after == pytest.approx(30.0)
    assert err.code == "budget:free:requests_per_minute"
    assert usage.calls == 5 and usage.over_budget == 1 and usage.failures == 1
    assert team.calls == 10  # alice's five and bob's five, under the declared tag


async def test_each_principal_has_its_own_budget_unless_shared(
    plugin_host: PluginHost, fake_scripts: dict[str, FakeScript]
) -> None:
    fake_scripts["fake"] = FakeScript(default="ok")
    budgets = {
        "each": {"requests_per_day": 2},
        "team": {"tag": "team=search", "shared": True, "requests_per_day": 3},
    }
    async with _hub(plugin_host, VirtualClock(), budgets) as hub:
        model = hub.model("fake:m")
        await model.complete("hi", principal=FREE)
        await model.complete("hi", principal=FREE)
        with pytest.raises(QuotaExhaustedError, match="budget 'each'"):
            await model.complete("hi", principal=FREE)
        await model.complete("hi", principal=PRO)
        with pytest.raises(QuotaExhaustedError, match="budget 'team' for tag:team=search"):
            await model.complete("hi", principal=PRO)
        await model.complete("hi")  # the service identity has no budget


async def test_cost_budget_is_reconciled_with_reported_cost_and_resets_monthly(
    plugin_host: PluginHost, fake_scripts: dict[str, FakeScript]
) -> None:
    fake_scripts["fake"] = FakeScript(default="ok")  # 10 in, 5 out: 2e-5 a call
    clock = VirtualClock(start=86400.0 * 40)  # 1970-02-10
    async with _hub(plugin_host, clock, {"spend": {"cost_per_month": 5e-5}}) as hub:
        model = hub.model("fake:m")
        costs = [(await model.complete("hi", principal=FREE)).cost for _ in range(3)]
        with pytest.raises(QuotaExhaustedError) as caught:
            await model.complete("hi", principal=FREE)
        assert hub.usage(principal="alice").cost == pytest.approx(sum(c or 0 for c in costs))
        clock.advance(86400.0 * 19)  # 1970-03-01: a new month
        await model.complete("hi", principal=FREE)
    assert all(c == pytest.approx(2e-5) for c in costs)
    assert "this month" in caught.value.message
    assert caught.value.retry_after == pytest.approx(86400.0 * 19)


async def test_tokens_budget_takes_the_estimate_and_settles_to_reported_usage(
    plugin_host: PluginHost, fake_scripts: dict[str, FakeScript]
) -> None:
    fake_scripts["fake"] = FakeScript(default="ok")  # reports 15 tokens a call
    async with _hub(plugin_host, VirtualClock(), {"t": {"tokens_per_hour": 45}}) as hub:
        model = hub.model("fake:m")
        for _ in range(3):
            await model.complete("hi", principal=FREE)
        budgets = hub.principals.budgets
        assert budgets is not None
        keys = [k for k in budgets.counters._values if "tokens_per_hour" in k]  # type: ignore[attr-defined]
        assert [await budgets.counters.used(k) for k in keys] == [45.0]
        with pytest.raises(QuotaExhaustedError, match="45 of 45 tokens this hour"):
            await model.complete("hi", principal=FREE)


async def test_a_budget_table_with_no_limit_is_a_config_error(plugin_host: PluginHost) -> None:
    from patchwire import ConfigError

    with pytest.raises(ConfigError, match=r"principals\.budgets\.empty"):
        _hub(plugin_host, VirtualClock(), {"empty": {"tag": "plan=free"}})
    with pytest.raises(ConfigError, match="requests_per_fortnight"):
        _hub(plugin_host, VirtualClock(), {"odd": {"requests_per_fortnight": 1}})


def test_a_shared_token_store_without_a_key_is_a_config_error_at_load(
    plugin_host: PluginHost,
) -> None:
    from patchwire import ConfigError

    with pytest.raises(ConfigError, match="token_key") as caught:
        Hub.from_dict({"principals": {"token_store": "redis"}}, host=plugin_host)
    assert "encrypted at rest" in str(caught.value)
