"""How closely the limiter holds a rate on the real clock, and what admission costs.

    .venv/bin/python benchmarks/limiter_precision.py [--rate R] [--seconds S] [--workers W]
                                                    [--queued N] [--rounds K]

Precision: ``requests_per_second=R`` driven by W concurrent workers that acquire and
release in a loop for S seconds. The bucket starts full, so R requests go at once (the
burst) and the rest follow at R per second; the table shows the steady rate after the
burst, the most admissions in any 1-s window against the token-bucket bound
(capacity + R x 1 s), and how late admissions came against their ideal instants.

Overhead: N waiters queued behind a held concurrency slot, then released; every waiter
acquires and releases at once, so each admission is one hand-off through the queue and
the buckets. The figures are time per waiter (enqueue and hand-off listed apart), the
median and the best of K rounds: on a shared machine the best round is the one least
disturbed by other processes.

The baseline for both is what one writes without a limiter library: an
``asyncio.Semaphore`` that a pacing task releases every 1/R s with ``asyncio.sleep``, and
a bare ``asyncio.Semaphore(1)`` for the hand-off.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import platform
import statistics
import time
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any

from patchwire.clock import MonotonicClock
from patchwire.limiter import Limiter, LimitsConfig


async def run_limiter(rate: float, seconds: float, workers: int) -> list[float]:
    limiter = Limiter("bench", LimitsConfig(requests_per_second=rate), MonotonicClock())
    stamps: list[float] = []
    end = time.monotonic() + seconds

    async def worker() -> None:
        while True:
            permit = await limiter.acquire()
            now = time.monotonic()
            permit.release()
            if now >= end:
                return
            stamps.append(now)

    await asyncio.gather(*(worker() for _ in range(workers)))
    return stamps


async def run_pacer(rate: float, seconds: float, workers: int) -> list[float]:
    gate = asyncio.Semaphore(0)
    stamps: list[float] = []
    end = time.monotonic() + seconds

    async def pacer() -> None:
        for _ in range(int(rate)):  # the same initial burst as a full bucket
            gate.release()
        while time.monotonic() < end:
            await asyncio.sleep(1 / rate)
            gate.release()
        for _ in range(workers):
            gate.release()

    async def worker() -> None:
        while True:
            await gate.acquire()
            now = time.monotonic()
            if now >= end:
                return
            stamps.append(now)

    await asyncio.gather(pacer(), *(worker() for _ in range(workers)))
    return stamps


def precision(stamps: list[float], rate: float) -> dict[str, float]:
    stamps.sort()
    start = stamps[0]
    burst = sum(1 for t in stamps if t - start < 1e-3)
    after = stamps[burst:]
    steady = (len(after) - 1) / (after[-1] - after[0]) if len(after) > 1 else 0.0
    most = max(bisect.bisect_left(stamps, t + 1.0) - i for i, t in enumerate(stamps))
    lateness = [t - (start + (k + 1) / rate) for k, t in enumerate(after)]
    return {
        "admitted": len(stamps),
        "burst": burst,
        "steady": steady,
        "error": (steady - rate) / rate * 100,
        "max_1s": most,
        "late_p50": statistics.median(lateness) * 1e3 if lateness else 0.0,
        "late_max": max(lateness) * 1e3 if lateness else 0.0,
    }


async def handoff_limiter(queued: int) -> tuple[float, float]:
    config = LimitsConfig(requests_per_second=1e9, tokens_per_minute=1e12, max_concurrency=1)
    limiter = Limiter("bench", config, MonotonicClock())
    plug = await limiter.acquire()

    async def waiter() -> None:
        (await limiter.acquire(tokens=10, deadline=time.monotonic() + 600)).release()

    return await _handoff(queued, waiter, plug.release)


async def handoff_semaphore(queued: int) -> tuple[float, float]:
    gate = asyncio.Semaphore(1)
    await gate.acquire()

    async def waiter() -> None:
        async with gate:
            pass

    return await _handoff(queued, waiter, gate.release)


async def _handoff(
    queued: int, waiter: Callable[[], Coroutine[Any, Any, None]], unplug: Callable[[], None]
) -> tuple[float, float]:
    """(enqueue µs per waiter, hand-off µs per waiter)."""
    begin = time.perf_counter()
    tasks = [asyncio.create_task(waiter()) for _ in range(queued)]
    await asyncio.sleep(0)  # every task runs up to its first wait
    enqueued = time.perf_counter()
    unplug()
    await asyncio.gather(*tasks)
    done = time.perf_counter()
    return (enqueued - begin) / queued * 1e6, (done - enqueued) / queued * 1e6


def rounds_of(
    rounds: int, run: Callable[[], Coroutine[Any, Any, tuple[float, float]]]
) -> tuple[float, float, float, float]:
    """(median enqueue, best enqueue, median hand-off, best hand-off)."""
    results = [asyncio.run(run()) for _ in range(rounds)]
    enqueue = [r[0] for r in results]
    handoff = [r[1] for r in results]
    return statistics.median(enqueue), min(enqueue), statistics.median(handoff), min(handoff)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=200)
    parser.add_argument("--queued", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    rate, seconds = args.rate, args.seconds

    print(f"python {platform.python_version()} on {platform.machine()}, real clock")
    print(f"\nprecision: R = {rate:g}/s for {seconds:g} s, {args.workers} concurrent workers")
    header = (
        f"{'':32} {'admitted':>8} {'burst':>6} {'steady /s':>10} {'vs R':>8} "
        f"{'max in 1 s':>10} {'bound':>6} {'late p50':>9} {'late max':>9}"
    )
    print(header)
    print("-" * len(header))
    bound = rate + rate * 1.0
    for name, runner in (
        ("patchwire Limiter", run_limiter),
        ("baseline: Semaphore + sleep pacer", run_pacer),
    ):
        row = precision(asyncio.run(runner(rate, seconds, args.workers)), rate)
        print(
            f"{name:32} {row['admitted']:>8.0f} {row['burst']:>6.0f} {row['steady']:>10.2f} "
            f"{row['error']:>+7.2f}% {row['max_1s']:>10.0f} {bound:>6.0f} "
            f"{row['late_p50']:>7.2f}ms {row['late_max']:>7.2f}ms"
        )

    print(f"\noverhead: {args.queued} waiters queued, {args.rounds} rounds, µs per call")
    header = f"{'':32} {'enqueue median':>15} {'best':>6} {'hand-off median':>16} {'best':>6}"
    print(header)
    print("-" * len(header))
    contenders: list[tuple[str, Callable[[int], Coroutine[Any, Any, tuple[float, float]]]]] = [
        ("patchwire Limiter (3 limits)", handoff_limiter),
        ("baseline: asyncio.Semaphore(1)", handoff_semaphore),
    ]
    for name, make in contenders:
        med_e, best_e, med_h, best_h = rounds_of(args.rounds, partial(make, args.queued))
        print(f"{name:32} {med_e:>15.1f} {best_e:>6.1f} {med_h:>16.1f} {best_h:>6.1f}")


if __name__ == "__main__":
    main()
