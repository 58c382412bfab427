"""Timeouts you can see (issue 14 item 9): a ``timeouts`` count per connector:model and per
operation, apart from the 503s that share the ``degraded`` category, in the snapshot, its
JSON and the table; and a timeout a route moves on from is logged like a retried one.
Fake connector, virtual clock."""

from __future__ import annotations

import json
import logging

import pytest
from patchwire.errors import DegradedError
from patchwire.hub import Hub
from patchwire.logsink import CALLS_LOGGER
from patchwire.metrics import MetricsSnapshot
from patchwire.testing import Delay, FakeScript, Hang


async def test_timeouts_are_counted_apart_from_other_degraded_failures(
    plugin_host, virtual_clock, fake_scripts
):
    overloaded = DegradedError("503 overloaded")
    fake_scripts["fake"] = FakeScript(default="ok").push(Hang(), overloaded, "ok", Hang(), Hang())
    config = {"connectors": {"fake": {"timeout": 2, "retry": {"max_attempts": 3}}}}
    async with Hub.from_dict(config, host=plugin_host, clock=virtual_clock) as hub:
        await hub.model("fake:m").complete("q")  # timeout, 503, ok
        await hub.tool("fake").call("lookup")  # timeout, timeout, ok
        snapshot = hub.metrics()
    model = snapshot.for_model("fake", "m")
    assert model.attempt_errors["degraded"] == 2 and model.timeouts == 1
    assert dict(model.timeouts_by_operation) == {"complete": 1}
    tool = snapshot.for_model("fake", None)
    assert tool.timeouts == 2 and dict(tool.timeouts_by_operation) == {"tool:lookup": 2}

    exported = json.loads(json.dumps(snapshot.to_dict()))
    rows = {row["model"]: row for row in exported["connectors"]}
    assert rows["m"]["timeouts"] == 1 and rows[None]["timeouts_by_operation"] == {"tool:lookup": 2}
    assert MetricsSnapshot.from_dict(exported).for_model("fake", None).timeouts == 2

    header, *lines = snapshot.render_table().splitlines()[1:]
    end = header.index("  tmo") + len("  tmo")  # cells are right-aligned under their label
    by_name = {line.split()[0]: line[end - 5 : end].strip() for line in lines}
    assert by_name == {"fake": "2", "fake:m": "1"}

    combined = MetricsSnapshot.combine([snapshot])
    assert combined.timeouts == 3
    assert dict(combined.timeouts_by_operation) == {"complete": 1, "tool:lookup": 2}


async def test_a_timeout_that_ends_in_a_fallback_is_logged_like_one_that_ends_in_a_retry(
    plugin_host, virtual_clock, fake_scripts, caplog: pytest.LogCaptureFixture
):
    fake_scripts["slow"] = FakeScript(default=Hang())
    fake_scripts["fast"] = FakeScript(default="ok")
    config = {
        "connectors": {
            "slow": {"type": "fake", "timeout": 2, "retry": {"max_attempts": 2}},
            "fast": {"type": "fake"},
        },
        "routes": {"chat": {"targets": ["slow:m", "fast:m"]}},
    }
    caplog.set_level(logging.INFO, logger=CALLS_LOGGER)
    async with Hub.from_dict(config, host=plugin_host, clock=virtual_clock) as hub:
        with pytest.raises(DegradedError):
            await hub.model("slow:m").complete("q")  # retried once, then fails
        reply = await hub.model("chat").complete("q")  # moves on to fast at once
        metrics = hub.metrics().for_model("slow", "m")
    assert reply.text == "ok" and metrics.timeouts == 3
    retried = [r for r in caplog.records if r.patchwire["event"] == "retry_scheduled"]
    moved = [r for r in caplog.records if r.patchwire["event"] == "fallback_taken"]
    assert len(retried) == 1 and len(moved) == 1
    for record in (retried[0], moved[0]):
        assert record.levelno == logging.INFO
        assert record.patchwire["connector"] == "slow" and record.patchwire["model"] == "m"
        assert record.patchwire["attempt"] == 1 and record.patchwire["category"] == "degraded"
        assert "attempt timed out after 2 s" in record.getMessage()
    assert moved[0].patchwire["target"] == "fast:m"
    assert "falling back to fast:m" in moved[0].getMessage()


async def test_a_stream_that_runs_out_of_time_after_its_first_chunk_counts_as_a_timeout(
    plugin_host, virtual_clock, fake_scripts
):
    fake_scripts["fake"] = FakeScript().push(["first", Delay(10.0, "late")], ["a", "b"])
    async with Hub.from_dict(
        {"connectors": {"fake": {}}}, host=plugin_host, clock=virtual_clock
    ) as hub:
        model = hub.model("fake:m")
        got: list[str] = []
        with pytest.raises(DegradedError, match="stream broke after it started"):
            async for chunk in model.stream("q", timeout=3):
                got.append(chunk.text)
        whole = [chunk.text async for chunk in model.stream("q")]
        row = hub.metrics().for_model("fake", "m")
    assert got == ["first"] and whole == ["a", "b"]
    assert row.timeouts == 1 and dict(row.timeouts_by_operation) == {"stream": 1}
    assert dict(row.attempt_errors) == {"degraded": 1} and row.failed == 1
