"""The same application function on every provider that claims the rich capabilities, each
against its own simulator, through the full pipeline: retries under injected 5xx, a rate
limit, the cache, and a route that falls back to another provider mid-conversation.

A provider joins by claiming tools, structured output, images and reasoning on its
connector class; until then it is skipped with the capabilities it lacks.
"""

from __future__ import annotations

import base64
import itertools
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import attrs
import pytest
from patchwire import Hub, Image, Message, Model, ToolCall, ToolResultPart
from patchwire.connector import Capability
from patchwire.plugins import default_host
from patchwire.testing.simulator import FaultMix, Simulator

pytestmark = pytest.mark.integration  # real simulators on loopback, real (short) retry sleeps

MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-haiku-4-5", "gemini": "gemini-2.5-flash"}
NEEDED = frozenset(
    {Capability.TOOLS, Capability.STRUCTURED_OUTPUT, Capability.IMAGES, Capability.REASONING}
)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(32))


def _rich_providers() -> list[Any]:
    registries = default_host().registries
    params = []
    for name in MODELS:
        cls = registries.connectors.get(name)
        missing = NEEDED - cls.capabilities if cls is not None else NEEDED
        marks = ()
        if cls is None or name not in registries.simulators:
            marks = (pytest.mark.skip(reason=f"{name} is not installed"),)
        elif missing:
            lacking = ", ".join(sorted(c.value for c in missing))
            marks = (pytest.mark.skip(reason=f"{name} does not claim {lacking} yet"),)
        params.append(pytest.param(name, marks=marks, id=name))
    return params


PROVIDERS = _rich_providers()
PAIRS = [
    pytest.param(a.values[0], b.values[0], marks=a.marks or b.marks, id=f"{a.id}-then-{b.id}")
    for a, b in itertools.product(PROVIDERS, PROVIDERS)
]


def get_weather(city: str) -> str:
    """The weather in a city.

    Args:
        city: the city's name
    """
    return f"sunny in {city}"


def get_time(zone: str) -> str:
    """The local time in a time zone."""
    return f"12:00 in {zone}"


TOOLS = {"get_weather": get_weather, "get_time": get_time}


@attrs.frozen
class Forecast:
    city: str
    high: int
    sunny: bool


def run_tool(call: ToolCall) -> str:
    return str(TOOLS[call.name](**call.arguments))


async def application(model: Model, second: Model | None = None) -> dict[str, Any]:
    """What an orchestrator does; it names no provider. ``second`` answers the later turns."""
    image = Image.from_bytes(PNG, "image/png")
    history = [Message("user", ["Weather and time where this photo was taken?", image])]
    first = await model.complete(history, tools=[get_weather, get_time], reasoning="low")
    results = [ToolResultPart.for_call(call, run_tool(call)) for call in first.tool_calls]
    history += [first.message, Message("user", results)]
    follow = await (second or model).complete(
        history, tools=[get_weather, get_time], reasoning="low"
    )
    forecast = await (second or model).complete(
        "Give the forecast for Paris.", output=Forecast, cache=True
    )
    again = await (second or model).complete(
        "Give the forecast for Paris.", output=Forecast, cache=True
    )
    return {
        "first": first,
        "follow": follow,
        "forecast": forecast,
        "again": again,
        "history": history,
    }


@pytest.fixture
async def stack() -> AsyncIterator[AsyncExitStack]:
    os.environ.setdefault("RICH_SIM_KEY", "sk-rich-not-real")
    async with AsyncExitStack() as stack:
        yield stack


SIMS: dict[str, Simulator] = {}


async def _connector(
    stack: AsyncExitStack, provider: str, faults: FaultMix | None = None
) -> dict[str, Any]:
    sim = await stack.enter_async_context(Simulator(provider, seed=11, faults=faults or FaultMix()))
    SIMS[provider] = sim
    return {
        "type": provider,
        "base_url": sim.base_url,
        "api_key": "env:RICH_SIM_KEY",
        "retry": {"max_attempts": 6, "initial": 0.001, "cap": 0.01},
        "limits": {"requests_per_second": 500},
        "breaker": {"enabled": False},
    }


def _followed_up(sim: Simulator) -> list[Any]:
    """The requests the simulator answered that carried tool results (the second turn)."""
    return [
        r.request
        for r in sim.journal
        if r.status == 200 and r.request is not None and r.request.after_tool_result
    ]


def _check_reasoning_and_image(result: dict[str, Any], sim: Simulator, replayed: bool) -> None:
    """Reasoning kept across turns: the reply's reasoning parts (OpenAI Chat returns none
    to replay, WIRE-RICH §4) go back in the history, and the simulator checked each
    signature it got back; the image's bytes reached the provider on the first turn."""
    first = result["first"]
    assert all(part in result["history"][1].content for part in first.reasoning)
    (follow,) = _followed_up(sim)
    assert follow.replayed == (len(first.reasoning) if replayed else 0)
    image = base64.b64encode(PNG).decode()
    assert any(image in r.body.decode() for r in sim.journal if r.status == 200)


def _check(result: dict[str, Any]) -> None:
    first = result["first"]
    assert first.finish_reason == "tool_calls"
    assert sorted(c.name for c in first.tool_calls) == ["get_time", "get_weather"]  # parallel
    assert result["follow"].tool_calls == () and result["follow"].text
    assert result["follow"].finish_reason == "stop"
    assert isinstance(result["forecast"].parsed, Forecast)
    assert result["again"].cached and result["again"].parsed == result["forecast"].parsed
    assert first.usage.reasoning_tokens > 0
    replay = result["history"][1]
    assert replay.role == "assistant" and all(c in replay.content for c in first.tool_calls)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_the_same_application_runs_on_each_provider_with_retries_limits_and_cache(
    stack: AsyncExitStack, provider: str
) -> None:
    flaky = FaultMix(server_error=0.3)
    connectors = {provider: await _connector(stack, provider, flaky)}
    # Limits that bind: two requests a second, one at a time, and a token budget the
    # image and tools fit in (estimated by the provider's own rule).
    connectors[provider]["limits"] = {
        "requests_per_second": 2,
        "max_concurrency": 1,
        "tokens_per_minute": 100_000,
    }
    async with Hub.from_dict({"connectors": connectors}) as hub:
        result = await application(hub.model(f"{provider}:{MODELS[provider]}"))
        row = hub.metrics().for_model(provider, MODELS[provider])
    _check(result)
    if provider != "openai":
        assert result["first"].reasoning  # replayable reasoning to keep across turns
    _check_reasoning_and_image(result, SIMS[provider], replayed=True)
    statuses = [record.status for record in SIMS[provider].journal]
    # Seeded draws: some 5xx were answered and retried, and every call still succeeded.
    assert any(status is not None and status >= 500 for status in statuses)
    assert statuses.count(200) == 3  # four calls from the application, the last one cached
    assert row.limiter.throttled > 0  # the limiter held attempts back, and all got through
    assert row.tool_calls == 2 and row.cache.hits == 1 and not row.invalid_outputs


@pytest.mark.parametrize(("before", "after"), PAIRS)
async def test_a_conversation_falls_back_to_another_provider_mid_way(
    stack: AsyncExitStack, before: str, after: str
) -> None:
    """Turn one on ``before``; later turns on a route whose first target is down, so they
    land on ``after`` with ``before``'s tool calls (and reasoning) in their history."""
    connectors = {
        "first": await _connector(stack, before),
        "down": await _connector(stack, after, FaultMix(overloaded=1.0)),
        "second": await _connector(stack, after),
    }
    routes = {"later": {"targets": [f"down:{MODELS[after]}", f"second:{MODELS[after]}"]}}
    async with Hub.from_dict({"connectors": connectors, "routes": routes}) as hub:
        result = await application(hub.model(f"first:{MODELS[before]}"), hub.model("later"))
    _check(result)
    assert result["follow"].connector == "second"
    # Reasoning goes back to the provider that signed it; another provider's is dropped.
    _check_reasoning_and_image(result, SIMS[after], replayed=before == after)
