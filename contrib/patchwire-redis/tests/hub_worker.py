"""One hub in its own OS process, sharing Redis with others; run by test_processes.py.

    python hub_worker.py limit SECONDS   prints "ready", reads a wall-clock start instant
                                         from stdin, calls for SECONDS from then on and
                                         prints the admission instants as JSON
    python hub_worker.py cache           asks one cacheable question and prints the reply

The hub's [backends.redis] table references the server as "env:TEST_REDIS_URL", the way a
deployment would; the prefix comes from TEST_REDIS_PREFIX.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import Any

from patchwire import Hub
from patchwire.plugins import PluginHost
from patchwire.testing.fake import FakeConnector, FakePlugin
from patchwire_redis.plugin import plugin

RATE = 5  # requests per second, shared by every worker


def make_hub(connector: dict[str, Any]) -> Hub:
    host = PluginHost(load_entry_points=False)
    host.register(FakePlugin(), "patchwire.testing.fake", distribution="patchwire")
    host.register(plugin, "patchwire_redis")
    backend = {"url": "env:TEST_REDIS_URL", "prefix": os.environ["TEST_REDIS_PREFIX"]}
    return Hub.from_dict(
        {"backends": {"redis": backend}, "connectors": {"fake": connector}}, host=host
    )


async def limit(seconds: float) -> None:
    config = {
        "limiter_backend": "redis",
        # the token window makes every admission a two-window script and every reply a
        # settlement (adjust) against the shared buckets
        "limits": {"requests_per_second": RATE, "tokens_per_minute": 100_000},
        "cache": {"ttl": 0},
    }
    async with make_hub(config) as hub:
        model = hub.model("fake:m")
        print("ready", flush=True)
        start = float(sys.stdin.readline())
        await asyncio.sleep(max(0.0, start - time.time()))
        end = start + seconds
        admitted: list[float] = []

        async def caller() -> None:
            while time.time() < end:
                await model.complete("hi", timeout=10)
                admitted.append(time.time())

        await asyncio.gather(*(caller() for _ in range(4)))
    print(json.dumps(admitted), flush=True)


async def cache() -> None:
    async with make_hub({"cache": {"backend": "redis", "ttl": 60}}) as hub:
        reply = await hub.model("fake:m").complete("a shared question", cache=True)
    upstream = len(FakeConnector.scripts["fake"].calls)
    print(json.dumps({"cached": reply.cached, "text": reply.text, "upstream": upstream}))


if __name__ == "__main__":
    if sys.argv[1] == "limit":
        asyncio.run(limit(float(sys.argv[2])))
    else:
        asyncio.run(cache())
