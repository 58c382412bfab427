"""A real Prometheus server scrapes a hub under a simulated workload, and PromQL agrees with
the hub's own snapshot.

Real time, real processes and loopback HTTP: the point is that an unmodified Prometheus
reads what ``hub.serve_metrics()`` serves. The test does not depend on scrape timing: once
the workload has finished it waits (bounded) until every patchwire series in Prometheus
carries a sample scraped after that moment, and only then compares.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import Counter
from typing import Any

import aiohttp
import pytest
from patchwire.errors import PatchwireError
from patchwire.hub import Hub
from patchwire.metrics import MetricsSnapshot
from patchwire.plugins import PluginHost
from patchwire.testing.simulator import FaultMix, Simulator
from patchwire_prometheus.exposition import CONTENT_TYPE
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.integration  # a real Prometheus server, real clock

KEY_ENV = "PATCHWIRE_PROM_TEST_KEY"
PROMPTS = ["Summarise Hamlet.", "A haiku on rate limits.", "What is a token bucket?"]
REPEATED = ["Capital of France?", "Define idempotency."]


def hub_config(primary: Simulator, backup: Simulator) -> dict[str, Any]:
    retry = {"max_attempts": 3, "initial": 0.01, "cap": 0.05, "deadline": 20}
    return {
        "connectors": {
            "primary": {
                "type": "openai",
                "base_url": primary.base_url,
                "api_key": f"env:{KEY_ENV}",
                "timeout": 0.3,
                "retry": retry,
                "cache": {"ttl": 600},
                "limits": {"requests_per_second": 40},
                "breaker": {"enabled": False},
            },
            "backup": {
                "type": "openai",
                "base_url": backup.base_url,
                "api_key": f"env:{KEY_ENV}",
                "timeout": 2,
                "retry": retry,
            },
        },
        "routes": {"chat": {"targets": ["primary:gpt-4o-mini", "backup:gpt-4o-mini"]}},
    }


async def workload(hub: Hub, calls: int, seed: int) -> Counter[str]:
    rng = random.Random(seed)
    chat = hub.model("chat")
    gate = asyncio.Semaphore(8)
    outcomes: Counter[str] = Counter()

    async def one(i: int) -> None:
        async with gate:
            try:
                if i % 4 == 0:
                    await chat.complete(rng.choice(REPEATED), max_tokens=20, temperature=0)
                else:
                    await chat.complete(rng.choice(PROMPTS), max_tokens=30)
            except PatchwireError as error:
                outcomes[error.category.value] += 1
            else:
                outcomes["succeeded"] += 1

    await asyncio.gather(*(one(i) for i in range(calls)))
    return outcomes


def key(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """A series' own labels: Prometheus adds job and instance and, as its data model says,
    keeps no label whose value is empty."""
    return tuple(
        sorted((k, v) for k, v in labels.items() if v and k not in ("job", "instance", "__name__"))
    )


def served_samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            samples[(sample.name, key(sample.labels))] = sample.value
    return samples


async def wait_for_scrape_after(
    session: aiohttp.ClientSession, prometheus: Any, moment: float
) -> float:
    """Until Prometheus has finished a successful scrape that began after ``moment`` (bounded);
    returns that scrape's time.

    ``up`` is stamped with the scrape's start and written after the scraped samples, so once
    it shows such a scrape, every patchwire series holds the values served after ``moment``.
    Queries evaluated at the returned time read exactly that scrape, whatever Prometheus
    scrapes later (the server stopping, say, which marks every series stale).
    """
    deadline = time.monotonic() + 60.0
    while time.monotonic() < deadline:
        up = await prometheus.query(session, 'timestamp(up{job="patchwire"} == 1)')
        if up and float(up[0]["value"][1]) > moment:
            return float(up[0]["value"][1])
        await asyncio.sleep(0.1)
    pytest.fail(f"no scrape after the workload within 60 s:\n{prometheus.log()}", pytrace=False)
    raise AssertionError("unreachable")


async def promql_number(
    session: aiohttp.ClientSession, prometheus: Any, promql: str, at: float
) -> float:
    # A family with no series yet (no failed call, say) sums to nothing, not to 0.
    result = await prometheus.query(session, f"({promql}) or vector(0)", at)
    assert len(result) == 1, f"{promql}: {result}"
    return float(result[0]["value"][1])


async def test_promql_returns_what_the_hub_snapshot_reports(
    prometheus_host: PluginHost, start_prometheus: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-prom-test-0000")
    primary = Simulator(
        "openai",
        faults=FaultMix(server_error=0.2, overloaded=0.1, hang=0.05, latency=0.002),
        seed=5,
        plugin_host=prometheus_host,
    )
    backup = Simulator("openai", seed=6, plugin_host=prometheus_host)
    async with primary, backup, aiohttp.ClientSession() as session:
        hub = Hub.from_dict(hub_config(primary, backup), host=prometheus_host, seed=5)
        async with hub:
            server = await hub.serve_metrics(port=0)
            prometheus = start_prometheus(f"127.0.0.1:{server.port}")
            await prometheus.wait_ready(session)

            outcomes = await workload(hub, calls=80, seed=5)
            finished = time.time()
            scraped = await wait_for_scrape_after(session, prometheus, finished)
            snapshot: MetricsSnapshot = hub.metrics()

            async with session.get(server.url + "/metrics") as response:
                assert response.headers["Content-Type"] == CONTENT_TYPE
                exposed = served_samples(await response.text())
            result = await prometheus.query(session, '{__name__=~"patchwire_.+"}', scraped)

        # The workload exercised what the comparison is about.
        rows = snapshot.connectors
        assert sum(outcomes.values()) == 80 == sum(row.calls for row in rows if row.model)
        assert sum(row.retries.scheduled for row in rows) > 0
        assert sum(row.fallbacks for row in rows) > 0
        assert sum(row.cache.hits for row in rows) > 0
        assert sum(row.timeouts for row in rows) > 0
        assert sum(row.limiter.throttled for row in rows) > 0

        # Every series Prometheus stored holds the value the hub serves now, and vice versa.
        stored = {(r["metric"]["__name__"], key(r["metric"])): float(r["value"][1]) for r in result}
        assert stored == exposed

        # PromQL aggregations equal the snapshot's own numbers.
        def total(field: Any) -> float:
            return float(sum(field(row) for row in rows))

        checks = {
            "sum(patchwire_calls_total)": total(lambda r: r.calls),
            'sum(patchwire_calls_total{outcome="failed"})': total(lambda r: r.failed),
            'sum(patchwire_tokens_total{kind="input"})': total(lambda r: r.input_tokens),
            'sum(patchwire_tokens_total{kind="output"})': total(lambda r: r.output_tokens),
            "sum(patchwire_retries_total)": total(lambda r: r.retries.scheduled),
            'sum(patchwire_retries_total{category="transient"})': total(
                lambda r: r.retries_by_category.get("transient", 0)
            ),
            'sum(patchwire_operation_calls_total{operation="complete"})': total(
                lambda r: r.calls_by_operation.get("complete", 0)
            ),
            'sum(patchwire_operation_calls_total{outcome="failed"})': total(lambda r: r.failed),
            "sum(patchwire_timeouts_total)": total(lambda r: r.timeouts),
            "sum(patchwire_limiter_waits_total)": total(lambda r: r.limiter.throttled),
            "sum(patchwire_attempt_failures_total)": total(
                lambda r: sum(r.attempt_errors.values())
            ),
            "sum(patchwire_fallbacks_total)": total(lambda r: r.fallbacks),
            "sum(patchwire_cache_hits_total)": total(lambda r: r.cache.hits),
            "sum(patchwire_cache_misses_total)": total(lambda r: r.cache.misses),
            "sum(patchwire_call_duration_seconds_count)": total(lambda r: r.latency.count),
        }
        for promql, expected in checks.items():
            assert await promql_number(session, prometheus, promql, scraped) == expected, promql
        for promql, expected in {
            "sum(patchwire_cost_total)": total(lambda r: r.cost),
            "sum(patchwire_call_duration_seconds_sum)": total(lambda r: r.latency.sum),
        }.items():
            got = await promql_number(session, prometheus, promql, scraped)
            assert math.isclose(got, expected, rel_tol=1e-9), (promql, got, expected)
        for row in rows:
            if not row.model:
                continue
            selector = f'connector="{row.connector}",model="{row.model}"'
            calls = f"sum(patchwire_calls_total{{{selector}}})"
            assert await promql_number(session, prometheus, calls, scraped) == float(row.calls)
            inf = f'sum(patchwire_call_duration_seconds_bucket{{{selector},le="+Inf"}})'
            assert await promql_number(session, prometheus, inf, scraped) == float(
                row.latency.count
            )
