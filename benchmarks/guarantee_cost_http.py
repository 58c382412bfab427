"""What each part and guarantee costs a call over real HTTP: compare_clients.py's clients
against the openai simulator on loopback, one part taken out at a time, in instructions per
call.

guarantee_cost.py prices the pipeline on an in-process connector; this prices the same take-
outs, and those of the HTTP side, on the path W1 and W2 measure, so that patchwire's excess
over raw aiohttp can be split into its parts. Each row runs in its own process (compare_
clients.py's child: 20 warm-up calls, then the workload's loop) twice, --calls and --calls/6
calls, under callgrind; the difference over the difference in calls is the per-call cost.
Without valgrind on PATH the runs are timed with process CPU time instead (noisier).

    .venv/bin/python benchmarks/guarantee_cost_http.py --workload W1 [--calls 1200]
        [--only aiohttp,full,connector] [--ns-per-instruction 0.43]

--ns-per-instruction turns instructions into client CPU: W1's CPU per call (compare_clients.py)
over W1's instructions per call (this table's rows) is about 0.43 ns for both clients
(benchmarks/README.md, "W1 is instructions on the latency path"); W2's is about 0.27.

Rows:
  aiohttp       compare_clients' raw aiohttp client: the same request and reply handling (floor)
  full          compare_clients' patchwire client: the defaults a user gets, its limits,
                breaker and cache tables, every installed plugin loaded (patchwire-otel too)
  connector     the openai connector's complete() awaited directly, on the hub's session, with
                one Attempt whose bearer header attach() set once: no pipeline. Its reply's
                rate-limit headers are read and handed to a reporter that drops them
  in-process take-outs, as guarantee_cost.py (its TABLES, SINKS_OFF, take_out): no-breaker,
                no-retry (compare_clients already makes one attempt: this row prices ~0),
                no-metrics, no-log, no-sinks, no-deadline, no-checks, no-auth
  no-limiter    compare_clients' limits table left out (the defaults have no limiter)

Rows that take out an HTTP-side guarantee no setting turns off (replaced in this process
only, to price it; never a configuration a user gets):
  no-proxy-rule       the session's request class without the per-request proxy choice
                      (NO_PROXY, connector and hub settings, HTTPS_PROXY: proxy.py)
  no-plugin-headers   the request class without the patchwire_request_headers step (hub.py,
                      request_headers.py: otel's trace context)
  no-otel             patchwire-otel not loaded: no request-headers step, no quiet check on
                      its event sink, no exporter
  no-bill             every call billed as free, without the price lookup and its rules
  no-rate-limit-info  the reply's x-ratelimit-* headers not read, so not reported to the
                      limiter nor as a quota event (compare_clients' simulator runs without
                      --rpm and sends none: here this prices the one look for them)
  no-origin-check     credentials sent to any origin (auth/attached.py: Attached.allows)
  bare-http           every take-out above at once

Not priced: redaction (a successful call makes no log record and no error message to
scrub), the body bound (one comparison with the declared length).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from importlib.metadata import entry_points
from typing import Any

import aiohttp
import compare_clients  # benchmarks/: run as a script, its folder is on sys.path
from callgrind_count import count, unit, valgrind
from guarantee_cost import SINKS_OFF, STAGES_OFF, TABLES, take_out
from patchwire.hub import Hub
from patchwire.types import CompletionRequest, Message

Call = Callable[[str], Awaitable[bool]]
Close = Callable[[], Awaitable[None]]

IN_PROCESS = (
    "no-breaker",
    "no-retry",
    "no-metrics",
    "no-log",
    "no-sinks",
    "no-deadline",
    "no-checks",
    "no-auth",
)
HTTP_SIDE = (
    "no-limiter",
    "no-proxy-rule",
    "no-plugin-headers",
    "no-otel",
    "no-bill",
    "no-rate-limit-info",
    "no-origin-check",
)
ROWS = ("aiohttp", "full", "connector", *IN_PROCESS, *HTTP_SIDE, "bare-http")
# The take-outs bare-http makes, each counted once: no-sinks holds no-metrics and no-log, and
# no-otel holds no-plugin-headers (patchwire-otel is the one plugin with that hook).
DISJOINT = tuple(
    row
    for row in (*IN_PROCESS, *HTTP_SIDE)
    if row not in ("no-metrics", "no-log", "no-plugin-headers")
)
HUBS: list[Hub] = []  # every hub the row's client built (the connector row reads its own)


def configure(row: str) -> None:
    """Hub.from_dict for this row: guarantee_cost's tables merged into every connector table
    (no-limiter: its limits left out), its sinks taken off the bus, the hub kept in HUBS."""
    key = "bare" if row == "bare-http" else row
    extra = TABLES.get(key, {})
    sinks = SINKS_OFF.get(key, ())
    no_limits = row in ("no-limiter", "bare-http")
    build = Hub.from_dict.__func__  # type: ignore[attr-defined]

    def table(given: dict[str, Any]) -> dict[str, Any]:
        merged = {k: v for k, v in given.items() if not (no_limits and k == "limits")}
        for name, value in extra.items():
            merged[name] = {**merged.get(name, {}), **value}
        return merged

    def from_dict(cls: type[Hub], /, data: dict[str, Any], **kwargs: Any) -> Hub:
        tables = {name: table(given) for name, given in data["connectors"].items()}
        hub: Hub = build(cls, {**data, "connectors": tables}, **kwargs)
        for name in sinks:
            hub.bus.remove(name)
        HUBS.append(hub)
        return hub

    Hub.from_dict = classmethod(from_dict)  # type: ignore[assignment,method-assign]


def take_out_http(names: tuple[str, ...]) -> None:
    """Replace HTTP-side parts in this process, to price what each guarantee costs."""
    from patchwire import outgoing
    from patchwire.auth.attached import Attached
    from patchwire.pipeline.record import Recorder
    from patchwire.plugins import PluginHost, default_host
    from patchwire.prices import Bill
    from patchwire_openai import connector

    def plain(rules: object, base: type[aiohttp.ClientRequest] = aiohttp.ClientRequest) -> Any:
        return base

    if "no-proxy-rule" in names:
        outgoing.proxy_request_class = plain  # type: ignore[attr-defined]
    if "no-plugin-headers" in names:
        Hub._with_request_headers = lambda self, base: base  # type: ignore[method-assign]
    if "no-otel" in names:
        loaded = [ep.name for ep in entry_points(group="patchwire") if ep.name != "otel"]
        default_host(lambda: PluginHost(allowlist=loaded))  # the host every Hub() takes
    if "no-bill" in names:
        free = Bill(charges=())
        Recorder.bill = lambda self, target, usage: free  # type: ignore[method-assign]
    if "no-rate-limit-info" in names:
        connector.rate_limit_info = lambda headers: None  # type: ignore[attr-defined]
    if "no-origin-check" in names:
        Attached.allows = lambda self, url: True  # type: ignore[method-assign]


async def connector_client(url: str) -> tuple[Call, Close]:
    """compare_clients' patchwire hub, its connector's complete() called without the pipeline."""
    from patchwire.auth.attached import attach
    from patchwire.connector import Attempt

    _, close = await compare_clients.make_client("patchwire", url, 0)
    hub = HUBS[-1]
    runtime = hub.runtime(next(iter(hub.config.connectors)))
    await runtime.ensure_open()
    attempt = Attempt(1, hub.clock, hub.session(), None, {}, {}, runtime.ssl, 0, lambda info: None)
    await attach(runtime.auth, attempt, runtime.config.base_url)
    complete = runtime.connector.complete
    model = compare_clients.MODEL

    async def call(prompt: str) -> bool:
        request = CompletionRequest(model, (Message("user", prompt),), {"max_tokens": 16})
        return bool((await complete(request, attempt)).text)

    return call, close


def child(row: str, workload: str, url: str, calls: int) -> None:
    """Make ``calls`` calls (and compare_clients' warm-up) as ``row``; every one must succeed."""
    names = HTTP_SIDE if row == "bare-http" else (row,)
    take_out(STAGES_OFF.get("bare" if row == "bare-http" else row, ()))
    take_out_http(names)
    configure(row)
    make_client = compare_clients.make_client

    async def client(kind: str, url: str, retries: int) -> tuple[Call, Close]:
        if kind == "connector":
            return await connector_client(url)
        return await make_client(kind, url, retries)

    compare_clients.make_client = client
    kind = row if row in ("aiohttp", "connector") else "patchwire"
    concurrency = compare_clients.WORKLOADS[workload][1]
    result = asyncio.run(compare_clients.child(kind, workload, url, calls, concurrency))
    assert result["ok"] == calls, f"{row}: {result['ok']} of {calls} calls succeeded"


def table(per_call: dict[str, float], found: str | None, ns: float) -> None:
    full = per_call.get("full")
    print(f"{'row':<20} {unit(found) + ' per call':>28} {'against full':>14}")
    for row, value in per_call.items():
        against = "" if full is None or row == "full" else f"{value - full:+14,.0f}"
        print(f"{row:<20} {value:>28,.0f} {against:>14}")
    raw, connector = per_call.get("aiohttp"), per_call.get("connector")
    if full is None or raw is None or connector is None:
        return
    scale = ns / 1000 if found else 1 / 1000  # to microseconds; CPU ns are microseconds already

    def line(name: str, value: float) -> None:
        print(f"  {name:<40} {value:>+12,.0f} {value * scale:>+9.1f} us")

    at = f", and client CPU at {ns} ns per instruction" if found else ""
    print(f"\nattribution ({unit(found)} per call{at}):")
    line("excess of full over aiohttp", full - raw)
    line("= pipeline share (full - connector)", full - connector)
    line("+ HTTP-side share (connector - aiohttp)", connector - raw)
    print("each take-out's share (full - row; they overlap, so they do not add up):")
    for row in (*IN_PROCESS, *HTTP_SIDE):
        if row in per_call:
            line(row, full - per_call[row])
    if "bare-http" in per_call:
        taken = sum(full - per_call[row] for row in DISJOINT if row in per_call)
        line("all at once (full - bare-http)", full - per_call["bare-http"])
        line("sum of the take-outs bare-http makes", taken)
        line("left in bare-http over aiohttp", per_call["bare-http"] - raw)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", choices=("W1", "W2"), default="W1")
    parser.add_argument("--calls", type=int, default=1200)
    parser.add_argument("--only", default=",".join(ROWS))
    parser.add_argument("--ns-per-instruction", type=float, default=0.43)
    parser.add_argument("--child")
    parser.add_argument("--url")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.workload, args.url, args.calls)
        return
    rows = args.only.split(",")
    for row in rows:
        if row not in ROWS:
            raise SystemExit(f"unknown row {row!r}; rows: {', '.join(ROWS)}")
    found = valgrind()
    few = max(1, args.calls // 6)
    per_call: dict[str, float] = {}
    with compare_clients.simulator(0.0) as url:
        for row in rows:
            command = [sys.executable, __file__, "--child", row, "--workload", args.workload]
            runs = [
                count([*command, "--url", f"{url}/v1", "--calls", str(calls)], found)
                for calls in (args.calls, few)
            ]
            per_call[row] = (runs[0] - runs[1]) / (args.calls - few)
            print(f"  {row}: {per_call[row]:,.0f}", file=sys.stderr, flush=True)
    table(per_call, found, args.ns_per_instruction)
    print(
        f"\n{args.workload}: {args.calls} and {few} calls per row, differenced;"
        f" Python {sys.version.split()[0]}"
    )


if __name__ == "__main__":
    main()
