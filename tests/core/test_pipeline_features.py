"""Batching, caching, spillover and metrics through the whole Hub (fake connector, virtual clock)."""

from __future__ import annotations

import asyncio
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from patchwire.clock import VirtualClock
from patchwire.errors import RateLimitedError, TransientError
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.testing import Delay, FakeConnector, FakeScript
from patchwire.testing.fake import FakePlugin

HOST = PluginHost(load_entry_points=False)
HOST.register(FakePlugin(), "fake")


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    texts=st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=60),
    seed=st.integers(0, 1000),
)
async def test_batched_embeddings_each_caller_gets_its_own_vector(texts, seed):
    """Every batch is at most max_batch inputs and each caller gets the vector of its own text."""
    clock = VirtualClock()
    FakeConnector.scripts["fake"] = FakeScript()
    config = {
        "connectors": {"fake": {"batch": {"max_size": 5, "linger": 0.01}, "cache": {"ttl": 0}}}
    }
    order = list(range(len(texts)))
    random.Random(seed).shuffle(order)
    async with Hub.from_dict(config, host=HOST, clock=clock) as hub:
        model = hub.model("fake:emb")

        async def one(i: int):
            await clock.sleep((i % 7) * 0.004)
            return i, await model.embed(texts[i])

        results = await asyncio.gather(*(one(i) for i in order))
    calls = FakeConnector.scripts["fake"].calls
    assert all(len(c.request.inputs) <= 5 for c in calls)
    for i, emb in results:
        text = texts[i]
        assert emb.vector == (float(len(text)), float(sum(map(ord, text)) % 997))
    assert sum(len(set(c.request.inputs)) for c in calls) <= len(texts)


async def test_cache_single_flight_one_upstream_call_for_k_identical_requests(
    plugin_host, virtual_clock, fake_scripts
):
    fake_scripts["fake"] = FakeScript(default=Delay(1.0, "slow answer"))
    async with Hub.from_dict(
        {"connectors": {"fake": {"cache": {"ttl": 60}}}}, host=plugin_host, clock=virtual_clock
    ) as hub:
        replies = await asyncio.gather(
            *(hub.model("fake:m").complete("same", temperature=0) for _ in range(25))
        )
        again = await hub.model("fake:m").complete("same", temperature=0)
        other = await hub.model("fake:m").complete("same", temperature=0.5)
        usage = hub.model("fake:m").usage()
    assert (
        len(fake_scripts["fake"].calls) == 2
    )  # one for the 26 identical, one for the non-deterministic
    assert all(r.text == "slow answer" for r in replies) and again.cached and not other.cached
    assert sum(not r.cached for r in replies) == 1
    assert usage.cache.hits == 25 and usage.cache.misses == 1


async def test_errors_are_never_cached(plugin_host, virtual_clock, fake_scripts):
    fake_scripts["fake"] = FakeScript().push(TransientError("x"), "ok")
    config = {"connectors": {"fake": {"retry": {"max_attempts": 1}}}}
    async with Hub.from_dict(config, host=plugin_host, clock=virtual_clock) as hub:
        try:
            await hub.model("fake:m").complete("q", cache=True)
        except TransientError:
            pass
        reply = await hub.model("fake:m").complete("q", cache=True)
    assert reply.text == "ok" and not reply.cached


async def test_spillover_to_next_target_when_the_limiter_cannot_admit_in_time(
    plugin_host, virtual_clock, fake_scripts
):
    fake_scripts["cheap"] = FakeScript(default="cheap")
    fake_scripts["premium"] = FakeScript(default="premium")
    config = {
        "connectors": {
            "cheap": {"type": "fake", "limits": {"requests_per_minute": 2}},
            "premium": {"type": "fake"},
        },
        "routes": {
            "chat": {
                "targets": ["cheap:m", "premium:m"],
                "priority_targets": ["premium:m"],
                "priority_threshold": 5,
            }
        },
    }
    async with Hub.from_dict(config, host=plugin_host, clock=virtual_clock) as hub:
        chat = hub.model("chat")
        answers = [(await chat.complete("q", timeout=5)).text for _ in range(4)]
        urgent = await chat.complete("q", priority=9)
        metrics = hub.metrics().to_dict()
    assert answers == ["cheap", "cheap", "premium", "premium"]  # the bucket of 2 spills over
    assert urgent.text == "premium" and len(fake_scripts["cheap"].calls) == 2
    assert virtual_clock.now() < 5
    assert "fallback" in str(metrics)


async def test_snapshot_numbers_equal_the_ledger(plugin_host, virtual_clock, fake_scripts):
    """A scripted run: every number in the snapshot equals what happened."""
    fake_scripts["fake"] = FakeScript().extend(
        [
            "a",
            TransientError("t"),
            "b",
            RateLimitedError("r", retry_after=1),
            TransientError("t"),
            "c",
        ]
    )
    config = {
        "connectors": {
            "fake": {"retry": {"max_attempts": 2, "initial": 0.1}, "breaker": {"enabled": False}}
        },
        "prices": {"fake:m": {"input": 1.0, "output": 2.0}},
    }
    async with Hub.from_dict(config, host=plugin_host, clock=virtual_clock) as hub:
        model = hub.model("fake:m")
        results = []
        for _ in range(4):
            try:
                results.append((await model.complete("q")).text)
            except Exception as exc:
                results.append(type(exc).__name__)
        row = model.usage()
    # calls: "a" ok; [t, "b"] ok after retry; [r, t] fails after retry; "c" ok
    assert results == ["a", "b", "TransientError", "c"]
    assert row.started == 4 and row.succeeded == 3 and row.failed == 1
    assert row.retries.succeeded_first_try == 2 and row.retries.succeeded_after_retry == 1
    assert row.retries.failed_after_retry == 1 and row.retries.failed_without_retry == 0
    assert row.retries.scheduled == 2
    assert row.input_tokens == 30 and row.output_tokens == 15
    assert row.cost is not None and abs(row.cost - (30 * 1.0 + 15 * 2.0) / 1e6) < 1e-12
    assert row.latency.count == 3
