"""How patchwire's cost grows with the work: the table in benchmarks/README.md (issue 19 item 3).

    .venv/bin/python benchmarks/scaling.py [--quick] [--only concurrency,limiter,metrics,events,stream]

Sections, each printed as a small table with the growth factor between rows:

  concurrency  client CPU per call and peak RSS at 1, 64, 512 and 4,096 calls in flight, patchwire
               and raw aiohttp against the loopback simulator (own processes, pinned as in
               compare_clients.py); flat is the goal, raw aiohttp is the floor
  limiter      enqueue and hand-off per waiter with 100, 10,000 and 100,000 waiters queued on
               a concurrency-1 limiter (the queue is a heap: log n at most)
  metrics      memory the aggregator holds with 10, 1,000 and 10,000 distinct
               connector:model series (tracemalloc; per series should be flat)
  events       in-process call cost with 0, 1 and 5 extra plugin sinks (each sink adds its
               own call per event, so linear in sinks is the floor)
  stream       client CPU per chunk, patchwire's stream against raw aiohttp reading the SSE
               lines itself

CPU figures are process CPU time (time.process_time), so other load on the machine disturbs
them less than wall time; the load average is printed with every table.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from compare_clients import KEY, MODEL, cpus, load, machine, simulator


def table(title: str, head: list[str], rows: list[list[str]]) -> None:
    print(f"\n{title} (load average {load()})")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) + " |")


# --- concurrency: reuse compare_clients' child, one process per point -------------------------


def concurrency(quick: bool) -> None:
    points = [(1, 1000), (64, 8000), (512, 8000), (4096, 16000)]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # 4,096 sockets each side
    rows = []
    with simulator(0.0) as url:
        _, client_cpus = cpus()
        for conc, n in points:
            n = n // 4 if quick else n
            cells = [f"{conc:,}"]
            for kind in ("aiohttp", "patchwire"):
                cmd = [
                    sys.executable,
                    os.path.join(os.path.dirname(os.path.abspath(__file__)), "compare_clients.py"),
                    "--child",
                    kind,
                    "--workload",
                    "scaling",
                    "--url",
                    f"{url}/v1",
                    "-n",
                    str(max(n, 2 * conc)),
                    "--concurrency",
                    str(conc),
                ]
                out = subprocess.run(
                    cmd,
                    capture_output=True,
                    text=True,
                    timeout=1800,
                    preexec_fn=lambda: os.sched_setaffinity(0, client_cpus),
                )
                if out.returncode != 0:
                    cells += ["failed", "-", "-"]
                    print(out.stderr[-500:], file=sys.stderr)
                    continue
                r = json.loads(out.stdout.strip().splitlines()[-1])
                cells += [
                    f"{r['cpu_per_call'] * 1e6:.0f}",
                    f"{r['rss_mb']:.0f}",
                    f"{r['ok']}/{r['n']}",
                ]
            rows.append(cells)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    table(
        "client CPU per call and peak RSS by calls in flight",
        [
            "in flight",
            "aiohttp µs/call",
            "aiohttp RSS MB",
            "aiohttp ok",
            "patchwire µs/call",
            "patchwire RSS MB",
            "patchwire ok",
        ],
        rows,
    )


# --- limiter: enqueue and hand-off with many waiters ------------------------------------------


async def limiter_point(waiters: int) -> tuple[float, float]:
    from patchwire.clock import MonotonicClock
    from patchwire.limiter import Limiter, LimitsConfig

    limiter = Limiter("bench", LimitsConfig(max_concurrency=1), MonotonicClock())
    holder = await limiter.acquire()
    admitted = 0
    done = asyncio.get_running_loop().create_future()

    async def wait_turn(priority: int) -> None:
        nonlocal admitted
        permit = await limiter.acquire(priority=priority)
        admitted += 1
        permit.release()  # hands the slot to the next in line
        if admitted == waiters:
            done.set_result(None)

    tasks = [asyncio.ensure_future(wait_turn(i % 4)) for i in range(waiters)]
    cpu0 = time.process_time()
    await asyncio.sleep(0)  # every task runs to its queued wait
    while len(limiter._queue) < waiters:
        await asyncio.sleep(0)
    enqueue = (time.process_time() - cpu0) / waiters
    cpu1 = time.process_time()
    holder.release()
    await done
    handoff = (time.process_time() - cpu1) / waiters
    await asyncio.gather(*tasks)
    return enqueue, handoff


def limiter(quick: bool) -> None:
    rows = []
    base: tuple[float, float] | None = None
    for waiters in (100, 10_000, 10_000 if quick else 100_000):
        gc.collect()
        enqueue, handoff = asyncio.run(limiter_point(waiters))
        base = base or (enqueue, handoff)
        rows.append(
            [
                f"{waiters:,}",
                f"{enqueue * 1e6:.1f}",
                f"{handoff * 1e6:.1f}",
                f"{enqueue / base[0]:.2f}x",
                f"{handoff / base[1]:.2f}x",
            ]
        )
    table(
        "limiter: CPU per waiter (task creation and wake-up included)",
        ["waiters", "enqueue µs", "hand-off µs", "enqueue vs 100", "hand-off vs 100"],
        rows,
    )


# --- metrics: memory by series ----------------------------------------------------------------


def metrics(quick: bool) -> None:
    from patchwire.clock import VirtualClock
    from patchwire.events import Event, EventKind
    from patchwire.metrics import MetricsAggregator

    rows = []
    per_base: float | None = None
    for series in (10, 1_000, 10_000):
        clock = VirtualClock()
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        agg = MetricsAggregator(clock)
        for call_id in range(series * (2 if quick else 5)):
            connector, model = f"c{call_id % series % 7}", f"m{call_id % series}"
            agg(Event(EventKind.CALL_STARTED, connector, model, call_id=call_id))
            agg(
                Event(
                    EventKind.CALL_SUCCEEDED,
                    connector,
                    model,
                    call_id=call_id,
                    duration=0.1 + (call_id % 50) / 100,
                )
            )
        held = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        per = held / series
        per_base = per_base or per
        rows.append(
            [f"{series:,}", f"{held / 1e6:.2f}", f"{per / 1e3:.1f}", f"{per / per_base:.2f}x"]
        )
        del agg
    table(
        "metrics aggregator memory by connector:model series",
        ["series", "MB held", "KB per series", "per series vs 10"],
        rows,
    )


# --- events: in-process calls with extra sinks ------------------------------------------------


async def events_point(sinks: int, calls: int) -> float:
    from patchwire.hub import Hub
    from patchwire.plugins import PluginHost
    from pipeline_overhead import Plugin

    host = PluginHost(load_entry_points=False)
    host.register(Plugin(), "instant")
    hub = Hub.from_dict({"connectors": {"i": {"type": "instant"}}}, host=host)
    seen = [0]

    def sink(event: Any) -> None:
        seen[0] += 1

    for i in range(sinks):
        hub.bus.add(f"bench{i}", sink)
    model = hub.model("i:m")
    for _ in range(500):
        await model.complete("hi")
    cpu0 = time.process_time()
    for _ in range(calls):
        await model.complete("hi")
    per_call = (time.process_time() - cpu0) / calls
    await hub.aclose()
    return per_call


def events(quick: bool) -> None:
    calls = 2000 if quick else 10_000
    rows = []
    base: float | None = None
    for sinks in (0, 1, 5):
        samples = sorted(asyncio.run(events_point(sinks, calls)) for _ in range(3))
        per_call = samples[1]
        base = base or per_call
        rows.append([str(sinks), f"{per_call * 1e6:.1f}", f"{(per_call - base) * 1e6:+.1f}"])
    table(
        "in-process call (instant connector) by extra plugin sinks, median of 3",
        ["sinks", "µs/call", "vs 0 sinks"],
        rows,
    )


# --- streaming: CPU per chunk -----------------------------------------------------------------


async def stream_run(kind: str, url: str, streams: int, max_tokens: int) -> tuple[float, int]:
    prompt = "Write a long story about " + " ".join(f"w{i}" for i in range(40))
    chunks = 0
    if kind == "aiohttp":
        import aiohttp

        session = aiohttp.ClientSession()
        body = {
            "model": MODEL,
            "messages": [{"role": "user", "content": prompt}],
            "max_completion_tokens": max_tokens,
            "stream": True,
        }
        headers = {"Authorization": f"Bearer {KEY}"}

        async def one() -> int:
            n = 0
            async with session.post(f"{url}/chat/completions", json=body, headers=headers) as r:
                async for line in r.content:
                    if line.startswith(b"data: ") and line.strip() != b"data: [DONE]":
                        data = json.loads(line[6:])
                        if data["choices"] and data["choices"][0]["delta"].get("content"):
                            n += 1
            return n

        close: Callable[[], Any] = session.close
    else:
        from patchwire.hub import Hub

        os.environ["BENCH_KEY"] = KEY
        hub = Hub.from_dict(
            {"connectors": {"sim": {"type": "openai", "base_url": url, "api_key": "env:BENCH_KEY"}}}
        )
        model = hub.model(f"sim:{MODEL}")

        async def one() -> int:
            n = 0
            async for chunk in model.stream(prompt, max_tokens=max_tokens):
                if chunk.text:
                    n += 1
            return n

        close = hub.aclose
    for _ in range(5):
        await one()
    cpu0 = time.process_time()
    for _ in range(streams):
        chunks += await one()
    cpu = time.process_time() - cpu0
    await close()
    return cpu, chunks


def stream(quick: bool) -> None:
    """The simulator's replies are short (about 19 words, one chunk each), so the cost of a
    chunk is the difference between full replies and replies cut to one word, divided by
    the difference in chunks: what each further chunk costs, the per-stream cost apart."""
    streams = 50 if quick else 300
    rows = []
    with simulator(0.0) as url:
        for kind in ("aiohttp", "patchwire"):
            short_cpu, short_chunks = asyncio.run(stream_run(kind, f"{url}/v1", streams, 1))
            long_cpu, long_chunks = asyncio.run(stream_run(kind, f"{url}/v1", streams, 400))
            per_chunk = (long_cpu - short_cpu) / max(1, long_chunks - short_chunks)
            rows.append(
                [
                    kind,
                    f"{short_chunks / streams:.0f} / {long_chunks / streams:.0f}",
                    f"{short_cpu / streams * 1e6:.0f} / {long_cpu / streams * 1e6:.0f}",
                    f"{per_chunk * 1e6:.1f}",
                ]
            )
    table(
        f"streaming: {streams} sequential streams each, replies cut to one word / full",
        ["client", "chunks/stream", "µs/stream", "µs per further chunk"],
        rows,
    )


SECTIONS = {
    "concurrency": concurrency,
    "limiter": limiter,
    "metrics": metrics,
    "events": events,
    "stream": stream,
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer calls, for a smoke run")
    parser.add_argument("--only", default=",".join(SECTIONS))
    args = parser.parse_args()
    print(f"{machine()}; load average {load()}")
    for name in args.only.split(","):
        SECTIONS[name](args.quick)


if __name__ == "__main__":
    main()
