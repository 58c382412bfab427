"""Calls by operation, retries by cause and the limiter's queue depth now (issue 17 item 3):
the snapshot fields the Prometheus exporter reads.

The by-operation and by-cause counts are checked against an observer's account of
synthetic scripts (``scripts.py``, hypothesis); the queue depth through a hub whose
limiter holds calls back, on the virtual clock.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from hypothesis import given, settings
from patchwire.clock import VirtualClock
from patchwire.hub import Hub
from patchwire.metrics import MetricsAggregator, MetricsSnapshot
from patchwire.plugins import PluginHost
from patchwire.testing import FakeScript

from .scripts import Call, Step, category, events, scripts

Key = tuple[str, str]


def observed(script: list[Step]) -> dict[Key, tuple[Counter[str], Counter[str], Counter[str]]]:
    """Per target: finished calls by operation, failed ones by operation, retries by cause."""
    out: dict[Key, tuple[Counter[str], Counter[str], Counter[str]]] = {}
    for step in script:
        if not isinstance(step, Call):
            continue
        calls, failed, retries = out.setdefault(step.target, (Counter(), Counter(), Counter()))
        calls[step.operation] += 1
        if not step.succeeded:
            failed[step.operation] += 1
        # Each retry follows the failure before it: the cause is that attempt's category.
        for failure in step.failures[: len(step.delays)]:
            retries[category(failure)] += 1
    return out


@settings(max_examples=100, deadline=None)
@given(scripts)
def test_calls_by_operation_and_retries_by_cause_equal_the_observers_account_and_add_up(
    script: list[Step],
) -> None:
    aggregator = MetricsAggregator(VirtualClock(0.0))
    for event in events(script):
        aggregator(event)
    snapshot = aggregator.snapshot()
    expected = observed(script)
    for row in snapshot.connectors:
        calls, failed, retries = expected.get(
            (row.connector, row.model or ""), (Counter(), Counter(), Counter())
        )
        assert dict(row.calls_by_operation) == dict(calls)
        assert dict(row.failed_by_operation) == dict(failed)
        assert dict(row.retries_by_category) == dict(retries)
        # The splits partition the totals the snapshot already had.
        assert sum(row.calls_by_operation.values()) == row.calls
        assert sum(row.failed_by_operation.values()) == row.failed
        assert sum(row.retries_by_category.values()) == row.retries.scheduled
    # And they survive the JSON that `patchwire stats` reads.
    assert MetricsSnapshot.from_dict(snapshot.to_dict()) == snapshot


async def test_the_limiters_queue_depth_is_in_the_snapshot_while_calls_wait(
    plugin_host: PluginHost, virtual_clock: VirtualClock, fake_scripts: dict[str, FakeScript]
) -> None:
    fake_scripts["fake"] = FakeScript(default="ok")
    config = {"connectors": {"fake": {"cache": {"ttl": 0}, "limits": {"requests_per_second": 1}}}}
    async with Hub.from_dict(config, host=plugin_host, clock=virtual_clock) as hub:
        model = hub.model("fake:m")
        await model.complete("first")  # spends the second's one request
        waiting = [asyncio.create_task(model.complete(f"q{i}")) for i in range(3)]
        for _ in range(5):
            await asyncio.sleep(0)  # let the three reach the limiter's queue; time stands still
        during = hub.metrics()
        await asyncio.gather(*waiting)
        after = hub.metrics()
    assert during.limiter_queued == {"fake": 3}
    assert after.limiter_queued == {"fake": 0}
    assert after.for_model("fake", "m").limiter.throttled == 3
    assert MetricsSnapshot.from_dict(during.to_dict()).limiter_queued == {"fake": 3}
