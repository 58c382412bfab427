"""Rich features through the whole Hub: capability refusals before sending, dropped knobs,
structured output validated into ``parsed``, and the reply's parts kept."""

from __future__ import annotations

import json
from typing import Any, ClassVar

import attrs
import pytest
from patchwire import (
    Completion,
    Image,
    IntegrationError,
    InvalidRequestError,
    Message,
    OutputValidationError,
    Reasoning,
    Text,
    ToolCall,
)
from patchwire.clock import VirtualClock
from patchwire.connector import Attempt, Capability, Connector
from patchwire.events import Event, EventKind
from patchwire.hookspecs import hookimpl
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.types import CompletionRequest


class Plain(Connector):
    """Text only; its API version "old" cannot send temperature; "v2" can read images."""

    type_name = "plain"
    api_versions = ("v1", "v2", "old")
    capabilities = frozenset({Capability.COMPLETE})
    version_capabilities: ClassVar[dict[str, frozenset[Capability]]] = {
        "v2": frozenset({Capability.COMPLETE, Capability.IMAGES})
    }
    version_sampling_params: ClassVar[dict[str, frozenset[str]]] = {"old": frozenset({"seed"})}
    seen: ClassVar[list[CompletionRequest]] = []
    answer: ClassVar[Completion] = Completion(text="ok")

    async def complete(self, request: CompletionRequest, attempt: Attempt) -> Completion:
        self.seen.append(request)
        return self.answer


class Plugin:
    @hookimpl
    def patchwire_register_connectors(self, register: Any) -> None:
        register("plain", Plain)


@pytest.fixture
def host() -> PluginHost:
    host = PluginHost(load_entry_points=False)
    host.register(Plugin(), "plain")
    Plain.seen.clear()
    return host


def _hub(host: PluginHost, **settings: Any) -> Hub:
    config = {"connectors": {"p": {"type": "plain", "retry": {"max_attempts": 1}, **settings}}}
    return Hub.from_dict(config, host=host, clock=VirtualClock())


def get_weather(city: str) -> str:
    """Weather for a city."""
    return city


@pytest.mark.parametrize(
    ("kwargs", "capability"),
    [
        ({"tools": [get_weather]}, "tools"),
        ({"output": {"type": "object"}}, "structured_output"),
        ({"reasoning": "high"}, "reasoning"),
    ],
)
async def test_a_missing_capability_is_refused_before_sending_naming_it_and_the_connector(
    host: PluginHost, kwargs: dict[str, Any], capability: str
) -> None:
    async with _hub(host) as hub:
        with pytest.raises(InvalidRequestError) as info:
            await hub.model("p:m").complete("hi", **kwargs)
    assert f"'{capability}' capability" in info.value.message
    assert "'plain'" in info.value.message and info.value.connector == "p"
    assert Plain.seen == []


async def test_parts_need_their_capability_under_the_configured_api_version(
    host: PluginHost,
) -> None:
    image = Image.from_bytes(b"png", "image/png")
    async with _hub(host) as hub:
        with pytest.raises(InvalidRequestError, match=r"Image part in message 0.*'images'"):
            await hub.model("p:m").complete([Message("user", ["look", image])])
    async with _hub(host, api_version="v2") as hub:
        await hub.model("p:m").complete([Message("user", ["look", image])])
    assert Plain.seen[0].messages[0].content == (Text("look"), image)


async def test_a_knob_the_api_version_cannot_send_is_dropped_with_an_event_and_a_count(
    host: PluginHost,
) -> None:
    events: list[Event] = []
    async with _hub(host, api_version="old") as hub:
        hub.bus.add("test", events.append)
        await hub.model("p:m").complete("hi", temperature=0.5, seed=3)
        connector = hub.runtime("p").connector
    assert dict(Plain.seen[0].params) == {"seed": 3}
    dropped = [e for e in events if e.kind is EventKind.PARAM_DROPPED]
    assert [e.data["param"] for e in dropped] == ["temperature"]
    assert connector.dropped_params == {"temperature": 1}


async def test_unsupported_params_error_refuses_the_knob_instead(host: PluginHost) -> None:
    async with _hub(host, api_version="old", unsupported_params="error") as hub:
        with pytest.raises(InvalidRequestError, match="cannot send temperature"):
            await hub.model("p:m").complete("hi", temperature=0.5)
    assert Plain.seen == []


@attrs.frozen
class Forecast:
    city: str
    high: int


async def test_output_type_gives_a_validated_instance_in_parsed(
    fake_scripts: dict[str, Any], plugin_host: PluginHost
) -> None:
    from patchwire.testing import FakeScript

    fake_scripts["fake"] = FakeScript().push(json.dumps({"city": "Paris", "high": 21}))
    async with Hub.from_dict({"connectors": {"fake": {}}}, host=plugin_host) as hub:
        reply = await hub.model("fake:m").complete("forecast?", output=Forecast)
    assert reply.parsed == Forecast("Paris", 21)
    request = fake_scripts["fake"].calls[0].request
    assert request.output.schema["required"] == ["city", "high"]


async def test_a_reply_that_does_not_validate_is_an_integration_error_keeping_the_raw_text(
    fake_scripts: dict[str, Any], plugin_host: PluginHost
) -> None:
    from patchwire.testing import FakeScript

    fake_scripts["fake"] = FakeScript().push('{"city": "Paris"}')
    # repair_attempts = 0: this reply's own error, not a repaired retry's (tests/transforms)
    config = {"connectors": {"fake": {"retry": {"max_attempts": 1}, "repair_attempts": 0}}}
    async with Hub.from_dict(config, host=plugin_host) as hub:
        with pytest.raises(IntegrationError) as info:
            await hub.model("fake:m").complete("forecast?", output=Forecast)
    error = info.value
    assert isinstance(error, OutputValidationError)
    assert error.raw_text == '{"city": "Paris"}'
    assert "missing required property 'high'" in error.validation_message


async def test_tool_calls_and_parts_survive_the_pipeline(
    fake_scripts: dict[str, Any], plugin_host: PluginHost
) -> None:
    from patchwire.testing import FakeScript

    call = ToolCall("call_1", "get_weather", {"city": "Paris"}, '{"city":"Paris"}')
    answer = Completion(text="", parts=(call,), finish_reason="tool_calls")
    fake_scripts["fake"] = FakeScript().push(answer)
    async with Hub.from_dict({"connectors": {"fake": {}}}, host=plugin_host) as hub:
        reply = await hub.model("fake:m").complete(
            "weather?", tools=[get_weather], tool_choice="get_weather", parallel_tool_calls=False
        )
    assert reply.tool_calls == (call,) and reply.finish_reason == "tool_calls"
    request = fake_scripts["fake"].calls[0].request
    assert [t.name for t in request.tools] == ["get_weather"]
    assert request.tool_choice == "get_weather" and request.parallel_tool_calls is False


async def test_bad_feature_values_are_refused_at_the_call_naming_the_keyword(
    plugin_host: PluginHost,
) -> None:
    async with Hub.from_dict({"connectors": {"fake": {}}}, host=plugin_host) as hub:
        model = hub.model("fake:m")
        with pytest.raises(ValueError, match="reasoning must be"):
            await model.complete("x", reasoning="extreme")
        with pytest.raises(ValueError, match="tool_choice 'nope'"):
            await model.complete("x", tools=[get_weather], tool_choice="nope")
        with pytest.raises(TypeError, match="parallel_tool_calls"):
            await model.complete("x", tools=[get_weather], parallel_tool_calls="yes")


async def test_bad_feature_values_are_invalid_arguments_sent_nowhere(
    plugin_host: PluginHost,
) -> None:
    from patchwire.arguments import InvalidArgument

    async with Hub.from_dict({"connectors": {"fake": {}}}, host=plugin_host) as hub:
        with pytest.raises(InvalidArgument, match="cannot write"):
            await hub.model("fake:m").complete("x", output=complex)


def test_plugins_lists_capabilities_per_api_version() -> None:
    from patchwire.cli.commands import _by_version

    listed = _by_version(Plain)
    assert listed["v1"]["capabilities"] == ["complete"]
    assert listed["v2"]["capabilities"] == ["complete", "images"]
    assert listed["old"]["sampling_params"] == ["seed"]


async def test_a_text_only_connector_gets_text_and_never_foreign_reasoning(
    host: PluginHost,
) -> None:
    thought = Reasoning("hmm", signature="sig", provider="anthropic")
    history = [
        Message("user", ["Hello ", "there"]),
        Message("assistant", [thought, Text("hi")]),
        Message("user", "go on"),
    ]
    async with _hub(host) as hub:
        await hub.model("p:m").complete(history)
    sent = Plain.seen[0].messages
    assert [m.content for m in sent] == ["Hello there", "hi", "go on"]


async def test_tool_choice_none_without_tools_needs_no_tool_capability(host: PluginHost) -> None:
    async with _hub(host) as hub:
        reply = await hub.model("p:m").complete("hi", tool_choice="none")
    assert reply.text == "ok"
