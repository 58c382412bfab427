"""Request transforms through a Hub on the fake connector: context overflow moves to a
larger window then trims, a reply that breaks its schema is repaired once; each is an
event, a log line and a counter, and the reply says which ran. (A plugin's own transform:
``tests/core/test_hooks.py::test_hook_patchwire_transform_request``.)"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pytest
from patchwire import Message, OutputValidationError, ToolCall, ToolResultPart
from patchwire.errors import InvalidRequestError
from patchwire.events import EventKind
from patchwire.hub import Hub
from patchwire.testing import FakeScript
from patchwire.transforms import is_context_overflow

WINDOWS = {"small": 100, "big": 5000}


def overflow(provider: str = "openai") -> InvalidRequestError:
    if provider == "openai":
        return InvalidRequestError(
            "This model's maximum context length is 100 tokens. However, your messages"
            " resulted in 900 tokens. Please reduce the length of the messages.",
            status=400,
            code="context_length_exceeded",
        )
    if provider == "anthropic":
        return InvalidRequestError("prompt is too long: 900 tokens > 100 maximum", status=400)
    return InvalidRequestError(
        "The input token count (900) exceeds the maximum number of tokens allowed (100).",
        status=400,
        code="INVALID_ARGUMENT",
    )


def hub_for(plugin_host: Any, clock: Any, **fake: Any) -> Hub:
    config = {
        "connectors": {"fake": {"context_windows": WINDOWS, **fake}},
        "routes": {"r": {"targets": ["fake:small", "fake:big"]}},
    }
    return Hub.from_dict(config, host=plugin_host, clock=clock, seed=1)


def part_ids(messages: Sequence[Message], kind: type, attribute: str) -> set[str]:
    return {
        getattr(p, attribute)
        for m in messages
        if not isinstance(m.content, str)
        for p in m.content
        if isinstance(p, kind)
    }


def long_conversation() -> list[Message]:
    messages = [Message("system", "be brief")]
    for i in range(6):
        messages.append(Message("user", f"question {i} " + "words " * 40))
        call = ToolCall(f"c{i}", "look", {"q": i}, f'{{"q": {i}}}')
        messages.append(Message("assistant", [call]))
        messages.append(Message("tool", [ToolResultPart.for_call(call, "found " * 30)]))
        messages.append(Message("assistant", f"answer {i}"))
    messages.append(Message("user", "last question"))
    return messages


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_each_providers_overflow_error_is_recognised(provider: str) -> None:
    assert is_context_overflow(overflow(provider))
    assert not is_context_overflow(InvalidRequestError("temperature must be <= 2"))


async def test_overflow_moves_to_the_route_target_with_a_larger_window(
    plugin_host, virtual_clock, fake_scripts, caplog
):
    script = fake_scripts.setdefault("fake", FakeScript()).push(overflow(), "fits")
    events: list[Any] = []
    escalated: list[Any] = []
    caplog.set_level(logging.INFO, "patchwire.transforms")
    async with hub_for(plugin_host, virtual_clock) as hub:
        hub.bus.add("t", events.append)
        hub._dead_letter = escalated.append
        reply = await hub.model("r").complete("hi")
        metrics = hub.metrics()
    assert reply.text == "fits" and reply.transforms == ("fallback",)
    assert metrics.for_model("fake", "small").transforms == 1
    assert "xform" in metrics.render_table()
    assert [c.request.model for c in script.calls] == ["small", "big"]
    done = [e for e in events if e.kind is EventKind.REQUEST_TRANSFORMED]
    assert [(e.data["transform"], e.target) for e in done] == [("fallback", "fake:big")]
    assert hub.transforms.counts == {("fake", "fallback"): 1}
    assert "fallback ran on fake:small" in caplog.text
    assert escalated == []  # healed: nobody is paged


async def test_overflow_without_a_larger_target_trims_keeping_system_and_tool_pairs(
    plugin_host, virtual_clock, fake_scripts
):
    script = fake_scripts.setdefault("fake", FakeScript()).push(overflow("anthropic"), "fits")
    async with hub_for(plugin_host, virtual_clock, context_windows={"small": 300}) as hub:
        reply = await hub.model("fake:small").complete(long_conversation())
    assert reply.transforms == ("trim",)
    sent = script.calls[1].request.messages
    assert sent[0] == Message("system", "be brief")
    assert sent[-1] == Message("user", "last question")
    assert len(sent) < len(long_conversation())
    calls = part_ids(sent, ToolCall, "id")
    results = part_ids(sent, ToolResultPart, "call_id")
    assert calls == results


async def test_overflow_steps_are_configurable_and_run_once_each(
    plugin_host, virtual_clock, fake_scripts
):
    script = fake_scripts.setdefault("fake", FakeScript())
    script.default = overflow("gemini")
    async with hub_for(plugin_host, virtual_clock, on_context_overflow=["trim"]) as hub:
        with pytest.raises(InvalidRequestError):
            await hub.model("r").complete(long_conversation())
        assert hub.transforms.counts == {("fake", "trim"): 1}
    assert len(script.calls) == 2  # sent, trimmed once, then the error stands


async def test_a_reply_that_breaks_its_schema_is_repaired_once_then_fails_as_integration(
    plugin_host, virtual_clock, fake_scripts
):
    schema = {
        "type": "object",
        "properties": {"n": {"type": "integer"}},
        "required": ["n"],
        "additionalProperties": False,
    }
    script = fake_scripts.setdefault("fake", FakeScript()).push('{"n": "one"}', '{"n": 1}')
    async with hub_for(plugin_host, virtual_clock) as hub:
        reply = await hub.model("fake:big").complete("count", output=schema)
        assert reply.parsed == {"n": 1} and reply.transforms == ("repair",)
        feedback = script.calls[1].request.messages
        assert feedback[-2] == Message("assistant", '{"n": "one"}')
        assert "schema" in feedback[-1].text and "n" in feedback[-1].text
        script.push("nope", "still nope", '{"n": 2}')
        with pytest.raises(OutputValidationError) as info:
            await hub.model("fake:big").complete("again", output=schema)
    assert info.value.category == "integration"
    assert len(script.calls) == 4  # 2 + (the bad reply, its one repair)


async def test_a_route_chooses_its_own_transforms_over_the_connectors(
    plugin_host, virtual_clock, fake_scripts
):
    script = fake_scripts.setdefault("fake", FakeScript())
    script.default = overflow()
    config = {
        "connectors": {"fake": {"context_windows": {"small": 300}, "on_context_overflow": []}},
        "routes": {
            "healing": {"targets": ["fake:small"], "on_context_overflow": ["trim"]},
            "plain": {"targets": ["fake:small"], "repair_attempts": 0},
        },
    }
    async with Hub.from_dict(config, host=plugin_host, clock=virtual_clock) as hub:
        script.push(overflow(), "fits")
        reply = await hub.model("healing").complete(long_conversation())
        assert reply.transforms == ("trim",)
        with pytest.raises(InvalidRequestError):  # the connector's [] still holds here
            await hub.model("plain").complete(long_conversation())
    assert hub.transforms.counts == {("fake", "trim"): 1}


def test_a_bad_transform_setting_is_refused_at_load_naming_the_key(plugin_host) -> None:
    from patchwire.errors import ConfigError

    for table, key in (
        ({"connectors": {"fake": {"on_context_overflow": ["shrink"]}}}, "on_context_overflow"),
        ({"connectors": {"fake": {"repair_attempts": -1}}}, "repair_attempts"),
        ({"connectors": {"fake": {"context_windows": {"m": 0}}}}, "m"),
        ({"routes": {"r": {"targets": ["fake:m"], "context_windows": {}}}}, "context_windows"),
    ):
        with pytest.raises(ConfigError) as info:
            Hub.from_dict(table, host=plugin_host)
        assert key in str(info.value)


async def test_a_cached_reply_says_no_transform_ran(plugin_host, virtual_clock, fake_scripts):
    script = fake_scripts.setdefault("fake", FakeScript()).push(overflow(), "fits")
    async with hub_for(plugin_host, virtual_clock, cache={"ttl": 60}) as hub:
        first = await hub.model("r").complete("hi", cache=True)
        again = await hub.model("r").complete("hi", cache=True)
    assert first.transforms == ("fallback",)
    assert again.cached and again.transforms == ()
    assert len(script.calls) == 2
