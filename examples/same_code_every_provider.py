"""The same application code against every installed model provider: only configuration changes.

Each provider's simulator stands in for its real API (offline, no keys). The function
`summarise` never names a provider, a wire format or an SDK; swapping providers is a line
in the configuration. A route falls back across providers when the first one is down.

    .venv/bin/python examples/same_code_every_provider.py
"""

from __future__ import annotations

import asyncio
import os
from contextlib import AsyncExitStack

from patchwire import Hub, Model, PatchwireError
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
            print()
            print(hub.metrics().render_table())


if __name__ == "__main__":
    asyncio.run(main())
