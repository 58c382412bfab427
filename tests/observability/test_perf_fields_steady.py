"""EventBus.fields_steady, the plain attribute a recorder reads before the fields_only
property (issue 19: no property call per event while no quiet sink is to be asked). It
must never say True where fields_only would say False, and it must follow every change
of the bus's sinks."""

from __future__ import annotations

from typing import Any

from patchwire.clock import VirtualClock
from patchwire.events import Event, EventBus, EventKind
from patchwire.hub import Hub
from patchwire.logsink import LoggingSink
from patchwire.metrics import MetricsAggregator
from patchwire.plugins import PluginHost


def _steady_agrees(bus: EventBus) -> bool:
    """True: fields_steady implies fields_only (the recorder's shortcut is sound)."""
    return not bus.fields_steady or bus.fields_only


def test_fields_steady_follows_the_sinks() -> None:
    bus = EventBus()
    assert bus.fields_steady and bus.fields_only  # no sink at all
    bus.add("metrics", MetricsAggregator(VirtualClock()))
    bus.add("logging", LoggingSink())
    assert bus.fields_steady and bus.fields_only
    seen: list[Event] = []
    bus.add("test", seen.append)  # a sink that wants Events
    assert not bus.fields_steady and not bus.fields_only
    bus.remove("test")
    assert bus.fields_steady and bus.fields_only
    awake = {"quiet": True}
    bus.add("otel", seen.append, quiet=lambda: awake["quiet"])
    # A quiet sink must be asked per call: not steady, whatever it answers now.
    assert not bus.fields_steady and bus.fields_only
    awake["quiet"] = False
    assert not bus.fields_steady and not bus.fields_only
    bus.remove("otel")
    assert bus.fields_steady and bus.fields_only


async def test_a_quiet_sink_that_wakes_gets_the_calls_events(plugin_host: PluginHost) -> None:
    awake = {"quiet": True}
    seen: list[Any] = []
    config = {"connectors": {"fake": {}}}
    async with Hub.from_dict(config, host=plugin_host, clock=VirtualClock()) as hub:
        hub.bus.add("late", seen.append, quiet=lambda: awake["quiet"])
        assert _steady_agrees(hub.bus)
        await hub.model("fake:m").complete("asleep")
        assert [e.kind for e in seen] == []
        awake["quiet"] = False
        await hub.model("fake:m").complete("awake")
        assert _steady_agrees(hub.bus)
    kinds = [e.kind for e in seen]
    assert kinds == [EventKind.CALL_STARTED, EventKind.CALL_SUCCEEDED]
