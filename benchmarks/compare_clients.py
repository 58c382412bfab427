"""patchwire against what users would use instead, on the same loopback simulator.

Each client runs in its own process against an OpenAI-compatible simulator running in
another process (`patchwire simulate openai`), so client CPU is measured alone. Workloads:

  W1  2,000 sequential completions: p50, p99 latency and client CPU per call
  W2  10,000 completions at concurrency 64: throughput and p99
  W3  W2 with 20 % 503s and 3 retries: successes, requests the server saw, wall time

plus import time and RSS after import. Each figure is the median of --runs runs, and each
row is compared with raw aiohttp (the baseline) in the same run.

    .venv/bin/pip install -r benchmarks/requirements.txt
    .venv/bin/python benchmarks/compare_clients.py [--runs 3] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any

CLIENTS = ["aiohttp", "patchwire", "openai", "litellm", "litellm-router"]
MODEL = "gpt-4o-mini"
KEY = "sk-bench-0000"


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
    if workload == "W1":
        for i in range(n):
            t = time.perf_counter()
            ok += await call(f"prompt {i}")
            latencies.append(time.perf_counter() - t)
    else:
        gate = asyncio.Semaphore(concurrency)

        async def one(i: int) -> None:
            nonlocal ok
            async with gate:
                t = time.perf_counter()
                succeeded = await call(f"prompt {i}")
                latencies.append(time.perf_counter() - t)
                ok += succeeded  # read ok only after the await: += would read it before

        await asyncio.gather(*(one(i) for i in range(n)))
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
    }


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def simulator(fail_rate: float) -> Any:
    port = free_port()
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
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        print(
            f"  {kind} {workload}: failed: {out.stderr.strip().splitlines()[-1:]}", file=sys.stderr
        )
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def median_of(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="10x fewer calls, for a smoke run")
    parser.add_argument("--clients", default=",".join(CLIENTS))
    parser.add_argument("--child")
    parser.add_argument("--workload")
    parser.add_argument("--url")
    parser.add_argument("-n", type=int)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    if args.child:
        result = asyncio.run(child(args.child, args.workload, args.url, args.n, args.concurrency))
        print(json.dumps(result))
        return
    scale = 10 if args.quick else 1
    clients = [c for c in args.clients.split(",") if c]
    available = []
    for c in clients:
        module = {"aiohttp": "aiohttp", "patchwire": "patchwire", "openai": "openai"}.get(
            c, "litellm"
        )
        if (
            subprocess.run(
                [sys.executable, "-c", f"import {module}"], capture_output=True
            ).returncode
            == 0
        ):
            available.append(c)
        else:
            print(
                f"skipping {c}: {module} is not installed (pip install -r benchmarks/requirements.txt)",
                file=sys.stderr,
            )
    results: dict[str, dict[str, Any]] = {c: {} for c in available}
    with simulator(0.0) as url:
        base = f"{url}/v1"
        for c in available:
            for workload, n, conc in (("W1", 2000 // scale, 1), ("W2", 10000 // scale, 64)):
                runs = [
                    r
                    for r in (run_child(c, workload, base, n, conc) for _ in range(args.runs))
                    if r
                ]
                if runs:
                    results[c][workload] = runs
            print(f"done: {c}", file=sys.stderr)
    for c in available:
        with simulator(0.2) as url:
            before = server_requests(url)
            runs = [
                r
                for r in (
                    run_child(c, "W3", f"{url}/v1", 10000 // scale, 64) for _ in range(args.runs)
                )
                if r
            ]
            seen = (server_requests(url) - before) / max(1, len(runs))
        if runs:
            results[c]["W3"] = runs
            results[c]["W3_seen"] = seen
        results[c]["import"] = import_cost(c)
    print_table(results)


def print_table(results: dict[str, dict[str, Any]]) -> None:
    base = results.get("aiohttp", {})

    def ratio(c: str, w: str, key: str) -> str:
        if w not in results[c] or w not in base:
            return "   -  "
        return f"{median_of(results[c][w], key) / median_of(base[w], key):5.2f}x"

    print()
    print(
        f"{'client':<16}{'W1 p50 ms':>10}{'ratio':>8}{'W1 p99 ms':>10}{'CPU/call µs':>12}"
        f"{'W2 calls/s':>11}{'ratio':>8}{'W2 p99 ms':>10}{'W3 ok %':>8}{'W3 seen':>8}{'W3 wall s':>10}{'import s':>9}{'RSS MB':>8}"
    )
    for c, r in results.items():
        w1, w2, w3 = r.get("W1"), r.get("W2"), r.get("W3")
        cells = [
            f"{median_of(w1, 'p50') * 1000:10.3f}" if w1 else f"{'-':>10}",
            ratio(c, "W1", "p50"),
            f"{median_of(w1, 'p99') * 1000:10.3f}" if w1 else f"{'-':>10}",
            f"{median_of(w1, 'cpu_per_call') * 1e6:12.1f}" if w1 else f"{'-':>12}",
            f"{median_of(w2, 'throughput'):11.0f}" if w2 else f"{'-':>11}",
            ratio(c, "W2", "throughput"),
            f"{median_of(w2, 'p99') * 1000:10.2f}" if w2 else f"{'-':>10}",
            f"{100 * median_of(w3, 'ok') / w3[0]['n']:8.1f}" if w3 else f"{'-':>8}",
            f"{r.get('W3_seen', 0):8.0f}",
            f"{median_of(w3, 'wall'):10.2f}" if w3 else f"{'-':>10}",
            f"{r['import']['import_s']:9.3f}",
            f"{r['import']['rss_mb']:8.1f}",
        ]
        print(f"{c:<16}" + "".join(cells))
    print(
        "\nratios are to raw aiohttp (W1 p50: lower is better; W2 throughput: higher is better);"
        " medians of the runs; patchwire import includes building a Hub with every installed plugin."
    )


if __name__ == "__main__":
    main()
