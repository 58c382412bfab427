"""An attempt starts with a shared placeholder record of what was attached (issue 19: no
record built only to be replaced); the connector always gets the record attach() made."""

from __future__ import annotations

from typing import Any

import pytest
from patchwire.auth.attached import Attached
from patchwire.connector import Attempt, Capability, Connector
from patchwire.hookspecs import hookimpl
from patchwire.hub import Hub
from patchwire.pipeline import attempts
from patchwire.plugins import PluginHost
from patchwire.types import Completion, CompletionRequest

SEEN: list[Attached] = []


class _Recording(Connector):
    type_name = "recording"
    capabilities = frozenset({Capability.COMPLETE})

    async def complete(self, request: CompletionRequest, attempt: Attempt) -> Completion:
        SEEN.append(attempt.attached)
        attempt.attached.allows("https://api.example.com/v1")  # binds the record's origin
        return Completion("ok")


class _Plugin:
    @hookimpl
    def patchwire_register_connectors(self, register: Any) -> None:
        register("recording", _Recording)


async def test_the_connector_gets_attachs_record_never_the_placeholder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PERF_ATTEMPT_KEY", "sk-test")
    host = PluginHost(load_entry_points=False)
    host.register(_Plugin(), "recording")
    table = {
        "type": "recording",
        "api_key": "env:PERF_ATTEMPT_KEY",
        "base_url": "https://api.example.com",
    }
    async with Hub.from_dict({"connectors": {"r": table}}, host=host) as hub:
        model = hub.model("r:m")
        for _ in range(3):
            await model.complete("hi")
    assert len(SEEN) == 3
    assert all(record is not attempts._UNATTACHED for record in SEEN)
    assert all(record.headers == frozenset({"authorization"}) for record in SEEN)
    assert len({id(record) for record in SEEN}) == 3
    assert Attached() == attempts._UNATTACHED  # never bound nor changed
