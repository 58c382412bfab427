"""What a cache hit costs: ``ResponseCache.get_or_call`` on a warm key, in µs per call.

The baseline is the least a cache hit can cost in async code: a dict lookup and the
``await`` of a coroutine that returns at once. Computing the key is listed on its own
row, because the pipeline pays it on every cacheable call, hit or miss: once for a dict
payload and once for the ``CompletionRequest`` the pipeline keys (the same two messages).

    .venv/bin/python benchmarks/cache_hit.py [--calls N] [--rounds R]

Each round times ``calls`` back-to-back calls; the table shows the median round's
per-call time, so a round disturbed by the scheduler or gc does not move the result.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import time
from collections.abc import Awaitable, Callable

from patchwire.cache import MemoryCacheBackend, ResponseCache
from patchwire.cachekey import cache_key
from patchwire.clock import MonotonicClock
from patchwire.types import CompletionRequest, Message

MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Name three prime numbers."},
]
PARAMS = {"max_tokens": 50, "temperature": 0, "stop": ["\n\n"]}
PAYLOAD = {"messages": MESSAGES, "params": PARAMS}
REQUEST = CompletionRequest(
    "gpt-4o-mini",
    (Message("system", "You are terse."), Message("user", "Name three prime numbers.")),
    params=PARAMS,
)


async def completed(value: object) -> object:
    return value


async def never_called() -> object:
    raise AssertionError("a warm key must not call upstream")


async def median_us(body: Callable[[], Awaitable[object]], calls: int, rounds: int) -> float:
    per_call: list[float] = []
    for _ in range(rounds):
        start = time.perf_counter_ns()
        for _ in range(calls):
            await body()
        per_call.append((time.perf_counter_ns() - start) / calls / 1000)
    return statistics.median(per_call)


async def main(calls: int, rounds: int) -> None:
    key = cache_key("openai", "gpt-4o-mini", "complete", PAYLOAD)
    reply = "2, 3, 5"

    plain: dict[str, object] = {key: reply}

    async def baseline() -> object:
        return await completed(plain[key])

    cache = ResponseCache(MemoryCacheBackend(MonotonicClock()), ttl=3600.0)
    await cache.get_or_call(key, lambda: completed(reply))

    async def hit() -> object:
        value, was_hit = await cache.get_or_call(key, never_called)
        assert was_hit
        return value

    async def key_only() -> object:
        return cache_key("openai", "gpt-4o-mini", "complete", PAYLOAD)

    async def request_key() -> object:
        return cache_key("openai", "gpt-4o-mini", "complete", REQUEST)

    rows = [
        ("baseline: dict lookup + await completed coroutine", baseline),
        ("ResponseCache.get_or_call, warm key (memory backend)", hit),
        ("cache_key for a two-message completion (dict)", key_only),
        ("cache_key for the same as a CompletionRequest", request_key),
    ]
    results = [(name, await median_us(body, calls, rounds)) for name, body in rows]
    base = results[0][1]

    print(f"Python {platform.python_version()} on {platform.machine()}, ", end="")
    print(f"{rounds} rounds x {calls} calls, median round")
    width = max(len(name) for name, _ in results)
    print(f"{'case':<{width}}  {'µs/call':>8}  {'x baseline':>10}")
    for name, us in results:
        print(f"{name:<{width}}  {us:>8.3f}  {us / base:>10.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=25)
    args = parser.parse_args()
    asyncio.run(main(args.calls, args.rounds))
