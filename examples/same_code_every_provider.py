"""The same application code against every installed model provider: only configuration changes.

Each provider's simulator stands in for its real API (offline, no keys). The functions
below never name a provider, a wire format or an SDK; swapping providers is a line in the
configuration. Besides plain text they do what orchestration code does: a tool-calling
exchange (two tools called in parallel, their results sent back, the answer), a structured
answer parsed into a Python type, and a question about an image. A route falls back
across providers when the first one is down.

    .venv/bin/python examples/same_code_every_provider.py
"""

from __future__ import annotations

import asyncio
import os
import struct
import zlib
from contextlib import AsyncExitStack
from dataclasses import dataclass

from patchwire import Hub, Image, Message, Model, PatchwireError, ToolResultPart
from patchwire.plugins import default_host
from patchwire.testing.simulator import FaultMix, Simulator

MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-haiku-4-5", "gemini": "gemini-2.5-flash"}


async def summarise(model: Model, text: str) -> str:
    """Application code: one interface, whatever answers behind it."""
    try:
        reply = await model.complete(
            [
                {"role": "system", "content": "Answer in one line."},
                {"role": "user", "content": text},
            ],
            max_tokens=30,
        )
    except PatchwireError as err:
        return f"failed ({err.category}): {err.message}"
    return (
        f"{reply.connector}:{reply.model} answered in {reply.latency * 1000:.1f} ms: {reply.text}"
    )


def get_weather(city: str) -> str:
    """The weather in a city.

    Args:
        city: the city's name
    """
    return f"sunny in {city}"


def get_time(zone: str) -> str:
    """The local time in a time zone.

    Args:
        zone: an IANA time zone name
    """
    return f"12:00 in {zone}"


TOOLS = {"get_weather": get_weather, "get_time": get_time}


@dataclass
class Forecast:
    city: str
    high_celsius: int
    sunny: bool


def tiny_png() -> bytes:
    """A real 1 x 1 PNG, so the example needs no image file."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x80\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


async def plan_with_tools(model: Model, question: str) -> str:
    """A tool-calling exchange: the model calls tools, we run them and send the results."""
    history = [Message("user", question)]
    try:
        first = await model.complete(history, tools=[get_weather, get_time])
        results = [
            ToolResultPart.for_call(call, TOOLS[call.name](**call.arguments))
            for call in first.tool_calls
        ]
        history += [first.message, Message("user", results)]
        final = await model.complete(history, tools=[get_weather, get_time])
    except PatchwireError as err:
        return f"failed ({err.category}): {err.message}"
    called = ", ".join(
        f"{c.name}({', '.join(map(str, c.arguments.values()))})" for c in first.tool_calls
    )
    return f"{final.connector}: tool calls [{called}], then: {final.text[:60]}"


async def forecast(model: Model, city: str) -> str:
    """A structured answer: the reply parsed and validated into a Python type."""
    try:
        reply = await model.complete(f"Give the forecast for {city}.", output=Forecast)
    except PatchwireError as err:
        return f"failed ({err.category}): {err.message}"
    parsed: Forecast = reply.parsed
    return f"{reply.connector}: structured {type(parsed).__name__} high={parsed.high_celsius} sunny={parsed.sunny}"


async def describe(model: Model, image: Image) -> str:
    """A question about an image, given as bytes with its media type."""
    try:
        reply = await model.complete([Message("user", ["What is in this picture?", image])])
    except PatchwireError as err:
        return f"failed ({err.category}): {err.message}"
    return f"{reply.connector}: image answer: {reply.text[:60]}"


async def main() -> None:
    os.environ.setdefault("EXAMPLE_KEY", "example-key-not-real")
    registries = default_host().registries
    providers = [p for p in MODELS if p in registries.connectors and p in registries.simulators]
    async with AsyncExitStack() as stack:
        connectors = {}
        for provider in providers:
            sim = await stack.enter_async_context(Simulator(provider, seed=3))
            connectors[provider] = {"base_url": sim.base_url, "api_key": "env:EXAMPLE_KEY"}
        # A first target that is down, so the route shows the fallback across providers.
        down = await stack.enter_async_context(
            Simulator(providers[0], faults=FaultMix(overloaded=1.0))
        )
        connectors["down"] = {
            "type": providers[0],
            "base_url": down.base_url,
            "api_key": "env:EXAMPLE_KEY",
        }
        routes = {
            "resilient": {
                "targets": [f"down:{MODELS[providers[0]]}"]
                + [f"{p}:{MODELS[p]}" for p in providers[1:] or providers]
            }
        }
        async with Hub.from_dict({"connectors": connectors, "routes": routes}) as hub:
            for provider in providers:
                print(
                    await summarise(
                        hub.model(f"{provider}:{MODELS[provider]}"), "What is patchwire?"
                    )
                )
            print(await summarise(hub.model("resilient"), "What is patchwire?"))
            image = Image.from_bytes(tiny_png(), "image/png")
            for provider in providers:
                model = hub.model(f"{provider}:{MODELS[provider]}")
                print(await plan_with_tools(model, "Weather and time in Lisbon?"))
                print(await forecast(model, "Lisbon"))
                print(await describe(model, image))
            print()
            print(hub.metrics().render_table())


if __name__ == "__main__":
    asyncio.run(main())
