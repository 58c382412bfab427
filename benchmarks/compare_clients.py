"""patchwire against what users would use instead, on the same loopback simulator.

Each client runs in its own process against an OpenAI-compatible simulator running in
another process (`patchwire simulate openai`), so client CPU is measured alone. Where the
machine has two CPUs or more, the simulator is pinned to one CPU and the clients to another
(``os.sched_setaffinity``), so the two do not take turns on one core. Workloads:

  W1  2,000 sequential completions: p50, p99 latency and client CPU per call
  W2  10,000 completions at concurrency 64: throughput, p99 and client CPU per call
  W4  20,000 completions at concurrency 1,024: the same, with many calls in flight
  W3  W2 with 20 % 503s and 3 retries: successes, requests the server saw, wall time

Concurrency is ``concurrency`` worker tasks pulling the next call from a shared counter (not
a semaphore over N tasks: asyncio.Semaphore's wake-up walks woken-but-not-yet-run waiters,
harness cost that grows with the backlog and would be charged to the client).

The clients are interleaved: each round runs every client once on a workload before the next
round starts, so a change in the machine's load hits all clients alike. Each figure is the
median of --runs rounds with its spread (min-max); ratios are per round (client / raw aiohttp
of the same round), then their median and spread. The machine's load average is printed
before and after, since every figure here is wall-clock or process CPU time.

    .venv/bin/pip install -r benchmarks/requirements.txt   # openai, litellm (optional)
    .venv/bin/python benchmarks/compare_clients.py [--runs 3] [--quick] [--clients aiohttp,patchwire]
        [--workloads W1,W2,W4,W3] [--json out.json]

One child can be profiled on its own (CPU time, not wall time, so other load does not
distort the attribution), against a simulator you started:

    .venv/bin/python benchmarks/compare_clients.py --child patchwire --workload W4 \\
        --url http://127.0.0.1:PORT/v1 -n 20000 --concurrency 1024 --profile w4.prof
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

CLIENTS = ["aiohttp", "patchwire", "openai", "litellm", "litellm-router"]
MODEL = "gpt-4o-mini"
KEY = "sk-bench-0000"
# workload -> (calls, concurrency); W3 also makes the simulator fail 20 % of requests
WORKLOADS = {"W1": (2000, 1), "W2": (10000, 64), "W4": (20000, 1024), "W3": (10000, 64)}


# --- one client, one workload (runs in a child process) --------------------------------------


async def make_client(
    kind: str, url: str, retries: int
) -> tuple[Callable[[str], Awaitable[bool]], Callable[[], Awaitable[None]]]:
    """A function making one completion (True on success) and a closer."""

    def body_for(prompt):
        return {
            "model": MODEL,
            "messages": [{"role": "user", "content": prompt}],
            "max_completion_tokens": 16,
        }

    if kind == "aiohttp":
        import aiohttp

        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        headers = {"Authorization": f"Bearer {KEY}"}

        async def call(prompt: str) -> bool:
            async with session.post(
                f"{url}/chat/completions", json=body_for(prompt), headers=headers
            ) as r:
                data = await r.json(content_type=None)
                return r.status == 200 and bool(data["choices"])

        return call, session.close
    if kind == "patchwire":
        from patchwire.hub import Hub

        os.environ["BENCH_KEY"] = KEY
        hub = Hub.from_dict(
            {
                "connectors": {
                    "sim": {
                        "type": "openai",
                        "base_url": url,
                        "api_key": "env:BENCH_KEY",
                        "retry": {"max_attempts": retries + 1, "initial": 0.05, "cap": 1.0},
                        "limits": {"requests_per_second": 100000, "max_concurrency": 1024},
                        "breaker": {"min_calls": 100000},
                        "cache": {"ttl": 0},
                    }
                }
            }
        )
        model = hub.model(f"sim:{MODEL}")

        async def call(prompt: str) -> bool:
            try:
                reply = await model.complete(prompt, max_tokens=16)
            except Exception:
                return False
            return bool(reply.text)

        return call, hub.aclose
    if kind == "openai":
        from openai import AsyncOpenAI

        client = AsyncOpenAI(base_url=url, api_key=KEY, max_retries=retries)

        async def call(prompt: str) -> bool:
            try:
                r = await client.chat.completions.create(
                    model=MODEL,
                    messages=[{"role": "user", "content": prompt}],
                    max_completion_tokens=16,
                )
            except Exception:
                return False
            return bool(r.choices)

        return call, client.close
    if kind in ("litellm", "litellm-router"):
        import litellm

        litellm.telemetry = False
        litellm.suppress_debug_info = True
        if kind == "litellm":

            async def call(prompt: str) -> bool:
                try:
                    r = await litellm.acompletion(
                        model=f"openai/{MODEL}",
                        api_base=url,
                        api_key=KEY,
                        num_retries=retries,
                        messages=[{"role": "user", "content": prompt}],
                        max_tokens=16,
                    )
                except Exception:
                    return False
                return bool(r.choices)

            async def close() -> None:
                return None

            return call, close
        router = litellm.Router(
            model_list=[
                {
                    "model_name": "bench",
                    "litellm_params": {"model": f"openai/{MODEL}", "api_base": url, "api_key": KEY},
                }
            ],
            num_retries=retries,
            retry_after=0,
        )

        async def rcall(prompt: str) -> bool:
            try:
                r = await router.acompletion(
                    model="bench", messages=[{"role": "user", "content": prompt}], max_tokens=16
                )
            except Exception:
                return False
            return bool(r.choices)

        async def rclose() -> None:
            return None

        return rcall, rclose
    raise SystemExit(f"unknown client {kind}")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def child(kind: str, workload: str, url: str, n: int, concurrency: int) -> dict[str, Any]:
    retries = 3 if workload == "W3" else 0
    call, close = await make_client(kind, url, retries)
    for i in range(20):
        await call(f"warm {i}")
    latencies: list[float] = []
    ok = 0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    if concurrency <= 1:
        for i in range(n):
            t = time.perf_counter()
            ok += await call(f"prompt {i}")
            latencies.append(time.perf_counter() - t)
    else:
        numbers = iter(range(n))

        async def worker() -> None:
            nonlocal ok
            for i in numbers:
                t = time.perf_counter()
                succeeded = await call(f"prompt {i}")
                latencies.append(time.perf_counter() - t)
                ok += succeeded  # read ok only after the await: += would read it before

        await asyncio.gather(*(worker() for _ in range(min(concurrency, n))))
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    await close()
    return {
        "ok": ok,
        "n": n,
        "wall": wall,
        "p50": pct(latencies, 0.50),
        "p99": pct(latencies, 0.99),
        "cpu_per_call": cpu / n,
        "throughput": n / wall,
        "rss_mb": rss_mb(),
    }


def rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def import_cost(kind: str) -> dict[str, float]:
    module = {
        "aiohttp": "aiohttp",
        "patchwire": "patchwire",
        "openai": "openai",
        "litellm": "litellm",
        "litellm-router": "litellm",
    }[kind]
    extra = "; from patchwire.hub import Hub; Hub()" if kind == "patchwire" else ""
    code = (
        "import time, resource; t=time.perf_counter(); import "
        + module
        + extra
        + "; print(time.perf_counter()-t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    seconds, rss = out.stdout.split()
    return {"import_s": float(seconds), "rss_mb": float(rss)}


# --- the parent: simulators, runs, table ------------------------------------------------------


def cpus() -> tuple[set[int], set[int]]:
    """(simulator CPUs, client CPUs): one CPU each when there are two or more, else shared."""
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        return set(allowed), set(allowed)
    return {allowed[-1]}, set(allowed[:-1])


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def machine() -> str:
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    return f"{model}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def simulator(fail_rate: float) -> Iterator[str]:
    port = free_port()
    sim_cpus, _ = cpus()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "patchwire.cli.main",
            "simulate",
            "openai",
            "--port",
            str(port),
            "--fail-rate",
            str(fail_rate),
            "--seed",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.sched_setaffinity(proc.pid, sim_cpus)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(f"{url}/stats", timeout=0.2)
            break
        except OSError:
            time.sleep(0.05)
    else:
        proc.kill()
        raise SystemExit("the simulator did not start")
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def server_requests(url: str) -> int:
    with urllib.request.urlopen(f"{url}/stats", timeout=5) as r:
        return int(json.load(r)["requests"])


def run_child(
    kind: str, workload: str, url: str, n: int, concurrency: int
) -> dict[str, Any] | None:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        kind,
        "--workload",
        workload,
        "--url",
        url,
        "-n",
        str(n),
        "--concurrency",
        str(concurrency),
    ]
    _, client_cpus = cpus()
    out = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=1800,
        preexec_fn=lambda: os.sched_setaffinity(0, client_cpus),
    )
    if out.returncode != 0:
        print(
            f"  {kind} {workload}: failed: {out.stderr.strip().splitlines()[-1:]}", file=sys.stderr
        )
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def available_clients(wanted: list[str]) -> list[str]:
    found = []
    for c in wanted:
        module = {"aiohttp": "aiohttp", "patchwire": "patchwire", "openai": "openai"}.get(
            c, "litellm"
        )
        probe = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True)
        if probe.returncode == 0:
            found.append(c)
        else:
            print(
                f"skipping {c}: {module} is not installed (pip install -r benchmarks/requirements.txt)",
                file=sys.stderr,
            )
    return found


def interleaved(
    clients: list[str], workload: str, url: str, n: int, conc: int, runs: int
) -> dict[str, list[dict[str, Any]]]:
    """Round by round, every client once per round (the order rotates so none is always first)."""
    results: dict[str, list[dict[str, Any]]] = {c: [] for c in clients}
    for round_no in range(runs):
        shift = round_no % len(clients)
        for c in clients[shift:] + clients[:shift]:
            before = server_requests(url.removesuffix("/v1"))
            r = run_child(c, workload, url, n, conc)
            if r:
                r["seen"] = server_requests(url.removesuffix("/v1")) - before
                r["round"] = round_no
                results[c].append(r)
        print(f"  {workload} round {round_no + 1}/{runs} done (load {load()})", file=sys.stderr)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="10x fewer calls, for a smoke run")
    parser.add_argument("--clients", default=",".join(CLIENTS))
    parser.add_argument("--workloads", default="W1,W2,W4,W3")
    parser.add_argument("--json", help="also write every run's figures to this file")
    parser.add_argument("--child")
    parser.add_argument("--workload")
    parser.add_argument("--url")
    parser.add_argument("-n", type=int)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--profile", help="child only: write a CPU-time cProfile here")
    args = parser.parse_args()
    if args.child:
        run = child(args.child, args.workload, args.url, args.n, args.concurrency)
        if args.profile:
            import cProfile

            profiler = cProfile.Profile(time.process_time)
            result = profiler.runcall(asyncio.run, run)
            profiler.dump_stats(args.profile)
        else:
            result = asyncio.run(run)
        print(json.dumps(result))
        return
    scale = 10 if args.quick else 1
    clients = available_clients([c for c in args.clients.split(",") if c])
    workloads = [w for w in args.workloads.split(",") if w]
    sim_cpus, client_cpus = cpus()
    header = {
        "machine": machine(),
        "simulator_cpus": sorted(sim_cpus),
        "client_cpus": sorted(client_cpus),
        "load_before": load(),
    }
    print(
        f"{header['machine']}; simulator on CPU {sorted(sim_cpus)}, clients on {sorted(client_cpus)}"
    )
    print(f"load average before: {header['load_before']}", flush=True)
    results: dict[str, dict[str, Any]] = {c: {} for c in clients}
    for workload in workloads:
        n, conc = WORKLOADS[workload]
        fail = 0.2 if workload == "W3" else 0.0
        with simulator(fail) as url:
            per_client = interleaved(clients, workload, f"{url}/v1", n // scale, conc, args.runs)
        for c, runs in per_client.items():
            if runs:
                results[c][workload] = runs
    for c in clients:
        results[c]["import"] = import_cost(c)
    header["load_after"] = load()
    print_table(results, workloads)
    print(f"load average after: {header['load_after']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"header": header, "results": results}, f, indent=1)


def spread(values: list[float], fmt: str) -> str:
    """median [min-max]"""
    return f"{format(statistics.median(values), fmt)} [{format(min(values), fmt)}-{format(max(values), fmt)}]"


def ratios(results: dict[str, dict[str, Any]], c: str, w: str, key: str) -> list[float]:
    """Per round: this client's figure over raw aiohttp's in the same round."""
    base = {r["round"]: r[key] for r in results.get("aiohttp", {}).get(w, [])}
    return [r[key] / base[r["round"]] for r in results[c].get(w, []) if base.get(r["round"])]


def print_table(results: dict[str, dict[str, Any]], workloads: list[str]) -> None:
    print()
    for w in workloads:
        n, conc = WORKLOADS[w]
        n = next((x[w][0]["n"] for x in results.values() if x.get(w)), n)
        print(f"{w}: {n} calls at concurrency {conc}; median [min-max] of the rounds")
        print(
            f"  {'client':<15}{'p50 ms':>24}{'p99 ms':>24}{'CPU/call µs':>22}{'calls/s':>22}"
            f"{'p50 ratio':>20}{'CPU ratio':>20}{'calls/s ratio':>20}"
        )
        for c, r in results.items():
            runs = r.get(w)
            if not runs:
                continue
            cells = [
                spread([x["p50"] * 1000 for x in runs], ".3f"),
                spread([x["p99"] * 1000 for x in runs], ".2f"),
                spread([x["cpu_per_call"] * 1e6 for x in runs], ".0f"),
                spread([x["throughput"] for x in runs], ".0f"),
            ]
            for key in ("p50", "cpu_per_call", "throughput"):
                q = ratios(results, c, w, key)
                cells.append(spread(q, ".2f") if q else "-")
            print(
                f"  {c:<15}"
                + "".join(
                    f"{cell:>{w_}}"
                    for cell, w_ in zip(cells, (24, 24, 22, 22, 20, 20, 20), strict=True)
                )
            )
            if w == "W3":
                ok = statistics.median(x["ok"] for x in runs) / runs[0]["n"] * 100
                seen = statistics.median(x["seen"] for x in runs)
                print(f"  {'':<15}ok {ok:.1f} %, the server saw {seen:.0f} requests per run")
        print()
    print(f"  {'client':<15}{'import s':>10}{'RSS after import MB':>22}")
    for c, r in results.items():
        print(f"  {c:<15}{r['import']['import_s']:>10.3f}{r['import']['rss_mb']:>22.1f}")
    print(
        "\nratios are to raw aiohttp in the same round (p50 and CPU: lower is better; calls/s: "
        "higher is better); patchwire import includes building a Hub with every installed plugin."
    )


if __name__ == "__main__":
    main()
