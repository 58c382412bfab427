"""Per-call overhead of the resilience layers (deadline, retry, budget, breaker, events, metrics)
on an in-process connector that answers at once.

Baseline: the same connector's ``complete`` awaited directly. Rows add layers so the cost
of each is visible. Prints a table; run with

    .venv/bin/python benchmarks/pipeline_overhead.py [--calls 20000] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from instant import Plugin  # benchmarks/instant.py: run as a script, its folder is on sys.path
from patchwire.clock import MonotonicClock
from patchwire.connector import Attempt
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.types import CompletionRequest, Message


async def measure(fn: Callable[[], Awaitable[Any]], calls: int) -> float:
    """Median per-call time in microseconds over batches of 100 calls."""
    for _ in range(min(1000, calls)):
        await fn()
    samples = []
    for _ in range(calls // 100):
        start = time.perf_counter_ns()
        for _ in range(100):
            await fn()
        samples.append((time.perf_counter_ns() - start) / 100 / 1000)
    return statistics.median(samples)


async def main(calls: int, runs: int) -> None:
    host = PluginHost(load_entry_points=False)
    host.register(Plugin(), "instant")
    configs = {
        "pipeline: deadline+retry+budget+breaker+events+metrics": {
            "connectors": {"i": {"type": "instant"}}
        },
        "  + breaker off": {
            "connectors": {"i": {"type": "instant", "breaker": {"enabled": False}}}
        },
        "  + limiter (rps 1e9, concurrency 1e5)": {
            "connectors": {
                "i": {
                    "type": "instant",
                    "limits": {"requests_per_second": 1e9, "max_concurrency": 100000},
                }
            }
        },
    }
    request = CompletionRequest("m", (Message("user", "hi"),))
    results: dict[str, list[float]] = {"baseline: connector.complete awaited directly": []}
    for name in configs:
        results[name] = []
    for _ in range(runs):
        hub0 = Hub.from_dict(configs[next(iter(configs))], host=host, clock=MonotonicClock())
        conn = hub0.runtime("i").connector
        attempt = Attempt(1, hub0.clock, None)  # type: ignore[arg-type]
        results["baseline: connector.complete awaited directly"].append(
            await measure(lambda conn=conn, attempt=attempt: conn.complete(request, attempt), calls)
        )
        await hub0.aclose()
        for name, config in configs.items():
            hub = Hub.from_dict(config, host=host)
            model = hub.model("i:m")
            results[name].append(await measure(lambda model=model: model.complete("hi"), calls))
            await hub.aclose()
    base = statistics.median(results["baseline: connector.complete awaited directly"])
    print(f"{'configuration':<58} {'median µs/call':>15} {'overhead µs':>12}")
    for name, values in results.items():
        med = statistics.median(values)
        print(f"{name:<58} {med:>15.2f} {med - base:>12.2f}")
    print(
        f"\n{calls} calls x {runs} runs, medians of 100-call batches; Python {__import__('sys').version.split()[0]}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.calls, args.runs))
