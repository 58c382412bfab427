"""Per-principal observability: call events carry the principal's id and only the tags
configuration declares (the bounded label set), usage is queryable per principal and per
declared tag, and no credential shows in any event, log line, metric, usage row or repr.

Virtual time and the fake connector; no network.
"""

from __future__ import annotations

import json
import logging

import pytest
from patchwire import AuthError, Principal, QuotaExhaustedError
from patchwire.clock import VirtualClock
from patchwire.events import Event, EventKind
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.testing import FakeScript

KEY = "alice-secret-key-0123456789"


def _hub(host: PluginHost, events: list[Event]) -> Hub:
    hub = Hub.from_dict(
        {
            "connectors": {"fake": {"api_key": "env:PW_OBS_SERVICE", "cache": {"ttl": 0}}},
            "principals": {
                "tags": ["team"],
                "budgets": {"tiny": {"tag": "team=search", "requests_per_day": 2}},
            },
        },
        host=host,
        clock=VirtualClock(),
    )
    hub.bus.add("test", events.append)
    return hub


async def test_events_carry_the_principal_and_only_declared_tags_and_never_a_credential(
    plugin_host: PluginHost,
    fake_scripts: dict[str, FakeScript],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("PW_OBS_SERVICE", "service-key-9876543210")
    monkeypatch.setenv("PW_OBS_ALICE", KEY)
    caplog.set_level(logging.DEBUG, logger="patchwire")
    fake_scripts["fake"] = FakeScript(default="ok").push(
        "ok", AuthError("the provider refused the key", status=403)
    )
    alice = Principal(
        "alice",
        tags={"team": "search", "email_hash": "abc123"},  # email_hash is not declared
        credentials={"api_key": "env:PW_OBS_ALICE"},
    )
    events: list[Event] = []
    async with _hub(plugin_host, events) as hub:
        model = hub.model("fake:m")
        await model.complete("hi", principal=alice)
        with pytest.raises(AuthError) as refused:
            await model.complete("hi", principal=alice)
        with pytest.raises(QuotaExhaustedError) as spent:
            await model.complete("hi", principal=alice)
        await model.complete("hi")  # the service identity
        usage = hub.usage(principal=alice)
        team = hub.usage(tag=("team", "search"))
        metrics = hub.metrics()
    calls = [
        e
        for e in events
        if e.kind in (EventKind.CALL_STARTED, EventKind.CALL_SUCCEEDED, EventKind.CALL_FAILED)
    ]
    for_alice = [e for e in calls if e.data.get("principal") == "alice"]
    assert len(for_alice) == 6  # three calls, started and ended
    assert all(e.data["tags"] == {"team": "search"} for e in for_alice)
    assert all("principal" not in e.data for e in calls if e not in for_alice)
    assert (usage.calls, usage.failures, usage.over_budget) == (3, 2, 1)
    assert team == usage
    with pytest.raises(Exception, match="not declared"):
        hub.usage(tag=("email_hash", "abc123"))
    text = "\n".join(
        [
            caplog.text,
            repr(events),
            json.dumps(metrics.to_dict(), default=str),
            repr(usage),
            repr(alice),
            str(refused.value),
            str(spent.value),
        ]
    )
    assert KEY not in text and "PW_OBS_ALICE" not in repr(alice)
    assert "abc123" not in json.dumps(metrics.to_dict(), default=str)
