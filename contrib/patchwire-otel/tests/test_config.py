"""``[exporters.otel]``: the switch and the content opt-in from the configuration, with the
environment as an override; content is never recorded unless asked for (issue 17 items 2
and 4). A hub on the virtual clock with the test kit's fake connector."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from patchwire import content
from patchwire.clock import VirtualClock
from patchwire.content import observers
from patchwire.errors import ConfigError
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.testing import FakeScript
from patchwire.types import Completion
from patchwire_otel.plugin import CONTENT_ENV, SWITCH_ENV, OtelPlugin

Telemetry = Any
PROMPT = "what the application asked, 51c2"
ANSWER = "what the model answered, 9e07"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(SWITCH_ENV, raising=False)
    monkeypatch.delenv(CONTENT_ENV, raising=False)
    before = observers()
    yield
    # A plugin that took content leaves no observer behind for the next test.
    for observer in observers():
        if observer not in before:
            content._OBSERVERS.remove(observer)


def config(exporter: dict[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {"connectors": {"work": {"type": "fake", "cache": {"ttl": 0}}}}
    if exporter is not None:
        out["exporters"] = {"otel": exporter}
    return out


async def one_call(host: PluginHost, clock: VirtualClock, exporter: dict[str, Any] | None) -> None:
    async with Hub.from_dict(config(exporter), host=host, clock=clock) as hub:
        await hub.model("work:m").complete(PROMPT)


def call_spans(telemetry: Telemetry) -> list[Any]:
    return [s for s in telemetry.spans.get_finished_spans() if s.name == "chat m"]


@pytest.fixture
def answering(fake_scripts: dict[str, FakeScript]) -> None:
    reply = Completion(text=ANSWER, model="m-2025-01-01", finish_reason="length",
                       raw={"id": "chatcmpl-abc123"})  # fmt: skip
    fake_scripts["work"] = FakeScript(default=reply)


async def test_content_is_not_recorded_by_default_and_the_response_is(
    otel_host: PluginHost, telemetry: Telemetry, virtual_clock: VirtualClock, answering: None
) -> None:
    await one_call(otel_host, virtual_clock, None)
    (span,) = call_spans(telemetry)
    attributes = dict(span.attributes or {})
    assert attributes["gen_ai.response.id"] == "chatcmpl-abc123"
    assert attributes["gen_ai.response.model"] == "m-2025-01-01"
    assert attributes["gen_ai.response.finish_reasons"] == ("length",)
    assert attributes["gen_ai.provider.name"] == "fake"  # the type, not the name "work"
    text = repr([(s.attributes, s.events) for s in telemetry.spans.get_finished_spans()])
    assert PROMPT not in text and ANSWER not in text


async def test_record_content_puts_the_messages_on_the_call_span(
    otel_host: PluginHost, telemetry: Telemetry, virtual_clock: VirtualClock, answering: None
) -> None:
    await one_call(otel_host, virtual_clock, {"record_content": True})
    (span,) = call_spans(telemetry)
    attributes = dict(span.attributes or {})
    sent = json.loads(str(attributes["gen_ai.input.messages"]))
    got = json.loads(str(attributes["gen_ai.output.messages"]))
    assert sent == [{"role": "user", "parts": [{"type": "text", "content": PROMPT}]}]
    assert got == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": ANSWER}],
            "finish_reason": "length",
        }
    ]


async def test_the_environment_overrides_the_content_switch_both_ways(
    otel_host: PluginHost,
    telemetry: Telemetry,
    virtual_clock: VirtualClock,
    answering: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(CONTENT_ENV, "false")
    await one_call(otel_host, virtual_clock, {"record_content": True})
    assert "gen_ai.input.messages" not in dict(call_spans(telemetry)[0].attributes or {})
    telemetry.spans.clear()
    monkeypatch.setenv(CONTENT_ENV, "true")
    await one_call(otel_host, virtual_clock, {"record_content": False, "enabled": True})
    assert "gen_ai.input.messages" in dict(call_spans(telemetry)[0].attributes or {})


async def test_enabled_false_records_nothing_unless_the_environment_turns_it_on(
    plugin_host: PluginHost,
    telemetry: Telemetry,
    virtual_clock: VirtualClock,
    answering: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plugin_host.register(OtelPlugin(), "otel")
    await one_call(plugin_host, virtual_clock, {"enabled": False})
    assert call_spans(telemetry) == []
    plugin_host.unregister("otel")
    monkeypatch.setenv(SWITCH_ENV, "on")
    plugin_host.register(OtelPlugin(), "otel")
    await one_call(plugin_host, virtual_clock, {"enabled": False})
    assert len(call_spans(telemetry)) == 1
    plugin_host.unregister("otel")


@pytest.mark.parametrize(
    ("table", "key", "words"),
    [
        ({"enabled": "no"}, "enabled", "true or false"),
        ({"record_content": 1}, "record_content", "true or false"),
        ({"record_contents": True}, "record_contents", "did you mean 'record_content'"),
    ],
)
def test_a_bad_table_fails_at_load_naming_the_table_and_key(
    otel_host: PluginHost, table: dict[str, Any], key: str, words: str
) -> None:
    with pytest.raises(ConfigError) as info:
        Hub.from_dict(config(table), host=otel_host)
    message = str(info.value)
    assert "[exporters.otel]" in message and key in message and words in message


async def test_a_streams_content_is_its_prompt_and_the_text_it_streamed(
    otel_host: PluginHost,
    telemetry: Telemetry,
    virtual_clock: VirtualClock,
    fake_scripts: dict[str, FakeScript],
) -> None:
    fake_scripts["work"] = FakeScript(default=["what the ", "model ", "streamed"])
    async with Hub.from_dict(
        config({"record_content": True}), host=otel_host, clock=virtual_clock
    ) as hub:
        pieces = [chunk.text async for chunk in hub.model("work:m").stream(PROMPT)]
    assert "".join(pieces) == "what the model streamed"
    (span,) = call_spans(telemetry)
    attributes = dict(span.attributes or {})
    assert json.loads(str(attributes["gen_ai.input.messages"]))[0]["parts"][0]["content"] == PROMPT
    (out,) = json.loads(str(attributes["gen_ai.output.messages"]))
    assert out["parts"] == [{"type": "text", "content": "what the model streamed"}]
    assert out["finish_reason"] == "stop"
    assert attributes["gen_ai.response.finish_reasons"] == ("stop",)


async def test_recorded_content_never_holds_a_credential_the_hub_loaded(
    otel_host: PluginHost,
    telemetry: Telemetry,
    virtual_clock: VirtualClock,
    fake_scripts: dict[str, FakeScript],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = "sk-otel-content-0a1b2c3d4e5f"
    monkeypatch.setenv("PW_OTEL_TEST_KEY", secret)
    fake_scripts["work"] = FakeScript(default=f"the key was {secret}")
    table = config({"record_content": True})
    table["connectors"]["work"]["auth"] = {"scheme": "bearer", "token": "env:PW_OTEL_TEST_KEY"}
    async with Hub.from_dict(table, host=otel_host, clock=virtual_clock) as hub:
        await hub.model("work:m").complete(f"my key is {secret}, keep it safe")
    (span,) = call_spans(telemetry)
    attributes = dict(span.attributes or {})
    assert "my key is ****" in str(attributes["gen_ai.input.messages"])
    assert "the key was ****" in str(attributes["gen_ai.output.messages"])
    assert secret not in repr(
        [(s.attributes, s.events) for s in telemetry.spans.get_finished_spans()]
    )
