"""A success's reply data is built only for an Event (issue 19).

The recorder takes a reply's model, finish reason and body as they are and turns them into
event data (reply_data) only when it builds a CALL_SUCCEEDED Event: on the field path (the
default hub's built-in sinks) nothing reads that data, so nothing builds it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from patchwire.clock import VirtualClock
from patchwire.events import Event, EventKind
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.testing import FakeScript
from patchwire.types import Completion


class _Body(Mapping[str, object]):
    """A reply body that records which keys were read."""

    def __init__(self, items: dict[str, object]) -> None:
        self.items_ = items
        self.read: list[str] = []

    def __getitem__(self, key: str) -> object:
        self.read.append(key)
        return self.items_[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.items_)

    def __len__(self) -> int:
        return len(self.items_)


BODY = _Body({"id": "chatcmpl-9"})


def _reply(request: Any, attempt: Any) -> Completion:
    return Completion(text="ok", model="fake-model-v2", finish_reason="stop", raw=BODY)


async def _call_and_stream(hub: Hub, script: FakeScript) -> None:
    script.push(_reply)
    await hub.model("fake:m").complete("hi")
    async for _ in hub.model("fake:m").stream("hi"):
        pass


async def test_the_field_path_builds_no_reply_data(
    plugin_host: PluginHost, fake_scripts: dict[str, FakeScript]
) -> None:
    BODY.read.clear()
    fake_scripts["fake"] = FakeScript(default="ok")
    async with Hub.from_dict({"connectors": {"fake": {}}}, host=plugin_host) as hub:
        assert hub.bus.fields_only
        await _call_and_stream(hub, fake_scripts["fake"])
        assert hub.metrics().for_model("fake", "m").succeeded == 2
    assert BODY.read == []  # reply_data would have read the body's id


async def test_an_event_carries_the_reply_data(
    plugin_host: PluginHost, fake_scripts: dict[str, FakeScript]
) -> None:
    fake_scripts["fake"] = FakeScript(default="ok")
    BODY.read.clear()
    seen: list[Event] = []
    config = {"connectors": {"fake": {}}}
    async with Hub.from_dict(config, host=plugin_host, clock=VirtualClock(0.0)) as hub:
        hub.bus.add("test", seen.append)
        await _call_and_stream(hub, fake_scripts["fake"])
    done = [e for e in seen if e.kind is EventKind.CALL_SUCCEEDED]
    assert [e.operation for e in done] == ["complete", "stream"]
    assert done[0].data["response_model"] == "fake-model-v2"
    assert done[0].data["finish_reasons"] == ("stop",)
    assert done[0].data["response_id"] == "chatcmpl-9"
    assert BODY.read == ["id"]
    assert done[0].data["connector_type"] == "fake"
    assert "response_model" not in done[1].data and "response_id" not in done[1].data
    assert done[1].data.get("finish_reasons") == ("stop",)
    assert done[1].data["connector_type"] == "fake"
