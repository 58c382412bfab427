"""The aggregator takes a succeeded call's fields apart in one unpacking (issue 19).
Held here field by field: with every field of the call a value of its own, the metrics
are the ones the same call's Event gives, so a field read from the wrong place shows."""

from __future__ import annotations

from types import MappingProxyType

import pytest
from patchwire.clock import VirtualClock
from patchwire.events import EventKind, Succeeded, call_event
from patchwire.metrics import MetricsAggregator


def _call(who: MappingProxyType[str, object], cached: bool) -> Succeeded:
    return (
        "conn",  # connector
        "mod",  # model
        1.0,  # time
        7,  # call id
        "complete",  # operation
        0.25,  # duration
        2,  # retries
        11,  # input tokens
        5,  # output tokens
        0.125,  # cost
        cached,
        0.0625,  # cache savings
        3,  # tool calls
        ("tier",),  # cost rules missing
        who,
    )


@pytest.mark.parametrize("cached", [False, True])
@pytest.mark.parametrize("principal", [False, True])
def test_fields_give_the_metrics_the_event_gives(cached: bool, principal: bool) -> None:
    who = MappingProxyType({"principal": "alice", "tags": {"team": "a"}} if principal else {})
    call = _call(who, cached)
    by_fields, by_event = MetricsAggregator(VirtualClock(1.0)), MetricsAggregator(VirtualClock(1.0))
    _, on_succeeded = by_fields.field_handlers()
    on_succeeded(call)
    data: dict[str, object] = {
        "cache_savings": call[11],
        "tool_calls": call[12],
        "cost_missing": call[13],
        **who,
    }
    by_event(call_event(EventKind.CALL_SUCCEEDED, call[:11], data))
    fields, event = by_fields.snapshot(), by_event.snapshot()
    assert fields == event
    row = fields.for_model("conn", "mod")
    assert row is not None
    assert (row.succeeded, row.tool_calls) == (1, 3)
    assert row.input_tokens == (0 if cached else 11)
    assert fields.principals == event.principals
    assert fields.principals is not None
    assert ("alice" in fields.principals.by_principal) == principal
