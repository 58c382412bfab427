"""One hub in its own OS process, sharing per-principal budgets through Redis; run by
test_redis.py.

    python budget_worker.py START CALLS   prints "ready"; on each stdin line "go" makes
                                          CALLS concurrent calls for principal alice and
                                          prints {"admitted": n, "refused": m, "other": [...]};
                                          on "advance S" moves its clock S seconds on

Both processes run a virtual clock started at the same START, moved only when told, so
they agree on budget windows exactly and a window can be made to turn without waiting a
minute. The [backends.redis] table references the server as "env:TEST_REDIS_URL".
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

from patchwire import Hub, Principal, QuotaExhaustedError
from patchwire.clock import VirtualClock
from patchwire.plugins import PluginHost
from patchwire.testing import FakeScript
from patchwire.testing.fake import FakeConnector, FakePlugin
from patchwire_redis.plugin import plugin

LIMIT = 7


async def main(start: float, calls: int) -> None:
    host = PluginHost(load_entry_points=False)
    host.register(FakePlugin(), "patchwire.testing.fake", distribution="patchwire")
    host.register(plugin, "patchwire_redis")
    FakeConnector.scripts["fake"] = FakeScript(default="ok")
    clock = VirtualClock(start=start, autojump=False)
    hub = Hub.from_dict(
        {
            "backends": {
                "redis": {"url": "env:TEST_REDIS_URL", "prefix": os.environ["TEST_REDIS_PREFIX"]}
            },
            "connectors": {"fake": {"cache": {"ttl": 0}}},
            "principals": {
                "backend": "redis",
                "budgets": {"alice": {"principal": "alice", "requests_per_minute": LIMIT}},
            },
        },
        host=host,
        clock=clock,
    )
    alice = Principal("alice")
    async with hub:
        model = hub.model("fake:m")
        print("ready", flush=True)
        loop = asyncio.get_running_loop()
        while line := (await loop.run_in_executor(None, sys.stdin.readline)).strip():
            if line.startswith("advance"):
                clock.advance(float(line.split()[1]))
                print("advanced", flush=True)
                continue
            outcomes = await asyncio.gather(
                *(model.complete("hi", principal=alice) for _ in range(calls)),
                return_exceptions=True,
            )
            refused = [o for o in outcomes if isinstance(o, QuotaExhaustedError)]
            other = [repr(o) for o in outcomes if isinstance(o, BaseException)]
            print(
                json.dumps(
                    {
                        "admitted": sum(not isinstance(o, BaseException) for o in outcomes),
                        "refused": len(refused),
                        "other": other[len(refused) :] if len(other) > len(refused) else [],
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1]), int(sys.argv[2])))
