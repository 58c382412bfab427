"""What one call holds while it is in flight: GC-tracked objects, coroutines and frames.

The cyclic garbage collector's cost grows with the number of tracked objects alive, so
with many calls in flight every object a call holds is traversed again at each young
collection it survives (benchmarks/README.md, "Where the rest goes"). This script parks N
calls inside an in-process connector at once and counts what the process gained, per call.

Baseline, in the same run: N tasks awaiting the same connector's ``complete`` directly.
The difference is what the pipeline (deadline, cache check, route, retry, budget, breaker,
events, metrics; the limiter with ``--limiter``) holds per call. Run with

    .venv/bin/python benchmarks/held_objects.py [--calls 1000] [--limiter] [--top 15]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from patchwire.clock import MonotonicClock
from patchwire.connector import Attempt, Capability, Connector
from patchwire.hookspecs import hookimpl
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.types import Completion, CompletionRequest, Message, Usage


class Parked(Connector):
    """Answers once the gate opens; counts the calls waiting at it and how deep they sit."""

    type_name = "parked"
    capabilities = frozenset({Capability.COMPLETE})
    _reply = Completion(text="ok", usage=Usage(3, 1), model="m")
    gate = asyncio.Event()
    parked = 0
    depth = 0

    async def complete(self, request: CompletionRequest, attempt: Attempt) -> Completion:
        cls = type(self)
        cls.parked += 1
        if not cls.depth:
            frame = sys._getframe()
            while frame is not None:
                cls.depth += 1
                frame = frame.f_back  # type: ignore[assignment]
        await cls.gate.wait()
        return self._reply


class Plugin:
    @hookimpl
    def patchwire_register_connectors(self, register: Any) -> None:
        register("parked", Parked)


async def held(call: Callable[[], Awaitable[Any]], n: int) -> tuple[Counter[str], int]:
    """Objects gained per call with n calls parked, by type; frames under the first call."""
    Parked.gate = asyncio.Event()
    Parked.gate.set()
    for _ in range(200):  # warm caches, lazy imports and the hub's first-call set-up
        await call()
    Parked.gate = asyncio.Event()
    Parked.parked = Parked.depth = 0
    gc.collect()
    gc.disable()  # a collection mid-count would hide what the calls hold
    try:
        before = Counter(type(o).__name__ for o in gc.get_objects())
        tasks = [asyncio.ensure_future(call()) for _ in range(n)]
        while Parked.parked < n:
            await asyncio.sleep(0)
        gc.collect()
        after = Counter(type(o).__name__ for o in gc.get_objects())
        Parked.gate.set()
        await asyncio.gather(*tasks)
    finally:
        gc.enable()
    return after - before, Parked.depth


def report(name: str, gained: Counter[str], depth: int, n: int, top: int) -> float:
    per_call = sum(gained.values()) / n
    print(f"{name}: {per_call:.1f} GC-tracked objects per call in flight, {depth} frames deep")
    for kind, count in gained.most_common(top):
        print(f"  {kind:<30} {count / n:7.2f}")
    return per_call


async def main(n: int, limiter: bool, top: int) -> None:
    host = PluginHost(load_entry_points=False)
    host.register(Plugin(), "parked")
    connector_table: dict[str, Any] = {"type": "parked"}
    if limiter:
        connector_table["limits"] = {"requests_per_second": 1e9, "max_concurrency": 10 * n}
    hub = Hub.from_dict({"connectors": {"p": connector_table}}, host=host, clock=MonotonicClock())
    try:
        model = hub.model("p:m")
        connector = hub.runtime("p").connector
        request = CompletionRequest("m", (Message("user", "hi"),))
        attempt = Attempt(1, hub.clock, hub.session())

        async def direct() -> Completion:
            return await connector.complete(request, attempt)

        async def through_patchwire() -> Completion:
            return await model.complete("hi")

        base = report(
            "baseline: connector.complete awaited directly", *await held(direct, n), n, top
        )
        print()
        mine = report(
            "patchwire: model.complete" + (" (limiter on)" if limiter else ""),
            *await held(through_patchwire, n),
            n,
            top,
        )
        print(f"\nthe pipeline holds {mine - base:.1f} objects per call in flight ({n} calls)")
    finally:
        await hub.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000, help="calls parked at once")
    parser.add_argument("--limiter", action="store_true", help="configure a (non-binding) limiter")
    parser.add_argument("--top", type=int, default=15, help="object types listed per row")
    args = parser.parse_args()
    asyncio.run(main(args.calls, args.limiter, args.top))
