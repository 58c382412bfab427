"""The anthropic and gemini connectors read a stream's events with patchwire.http.loads_text
(issue 19: orjson where it is installed and reads the same), as the openai one does, not
with json.loads. Invariant: a stream gives the same chunks (text, usage, finish reason,
parts) either way; loads_text's own agreement with json.loads on any text is held by
tests/core/test_perf_http_orjson.py."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import patchwire_anthropic.connector
import patchwire_gemini.connector
import pytest
from patchwire.http import loads_text
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.testing.simulator import Simulator
from patchwire_anthropic.plugin import AnthropicPlugin
from patchwire_gemini.plugin import GeminiPlugin

pytestmark = pytest.mark.integration  # the simulator on loopback

KEY = "sim-key-stream-loads-0f3a"
PROMPTS = ["hello", "naïve café 😀 12345678901234567890", 'quotes " and \\ backslashes']
PROVIDERS = [
    ("anthropic", AnthropicPlugin, patchwire_anthropic.connector, "claude-haiku-4-5"),
    ("gemini", GeminiPlugin, patchwire_gemini.connector, "gemini-2.5-flash"),
]


async def _streams(host: PluginHost, name: str, model: str) -> list[list[str]]:
    async with Simulator(name, keys=[KEY], seed=3, plugin_host=host) as sim:
        table = {"base_url": sim.base_url, "api_key": "env:STREAM_LOADS_KEY", "timeout": 2}
        async with Hub.from_dict({"connectors": {name: table}}, host=host) as hub:
            streaming = hub.model(f"{name}:{model}")
            return [
                [
                    repr((c.text, c.usage, c.finish_reason, c.parts))
                    async for c in streaming.stream(p)
                ]
                for p in PROMPTS
            ]


@pytest.mark.parametrize(("name", "plugin", "connector", "model"), PROVIDERS, ids=lambda p: p)
async def test_stream_events_are_read_by_loads_text_as_json_loads_reads_them(
    name: str,
    plugin: type[Any],
    connector: ModuleType,
    model: str,
    plugin_host: PluginHost,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STREAM_LOADS_KEY", KEY)
    plugin_host.register(plugin(), name)
    read: list[str] = []

    def recorded(text: str) -> Any:
        read.append(text)
        return loads_text(text)

    monkeypatch.setattr(connector, "loads_text", recorded)
    fast = await _streams(plugin_host, name, model)
    assert read and all(repr(loads_text(t)) == repr(json.loads(t)) for t in read)
    monkeypatch.setattr(connector, "loads_text", json.loads)
    assert fast == await _streams(plugin_host, name, model)
