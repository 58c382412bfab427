"""What each guarantee costs a call: the pipeline with one policy taken out (or added) at a time,
on an in-process connector that answers at once, in instructions per call.

Instructions (valgrind's callgrind) rather than time: the figure does not move with the
machine's load, so one policy's share can be read to a few hundred instructions. Each
configuration runs in its own process twice (--calls and --calls/6); the difference over the
difference in calls is the per-call cost, with start-up, imports and the hub's set-up taken
out. Without valgrind on PATH the same runs are timed with process CPU time instead (noisier).

    .venv/bin/python benchmarks/guarantee_cost.py [--calls 1200] [--only full,no-breaker]

Rows:
  baseline      the connector's complete() awaited directly (the floor)
  full          the defaults a user gets: deadline, retry, budget, breaker, events to the
                metrics aggregator and the log sink, bill
  no-breaker    [connectors.i.breaker] enabled = false
  no-retry      retry.max_attempts = 1 (no retry and so no budget draw; the loop remains)
  no-metrics    the metrics aggregator taken off the event bus
  no-log        the log sink taken off the event bus
  no-sinks      no event sink at all (events still built and emitted)
  limiter       + limits (1e9 requests/s, concurrency 1e5): never binding, always consulted
  cache-miss    + [cache] ttl = 60 on a prompt never seen before (key, lookup, single-flight, store)

Rows that take out a guarantee no setting turns off (the stage replaced in this process
only, to price it; never a configuration a user gets):
  no-deadline   attempts run without their deadline scope (a hung await would never end)
  no-checks     no check of the request against the connector's features, no wire bounds
                on the reply's usage (a malformed request is sent, absurd usage counted)
  no-auth       no auth step (the connector's scheme never attaches or checks anything)
  bare          every row above that takes something out, at once: what is left is the
                call's own path (arguments, options, route, attempt loop, outcome, bill)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from typing import Any

from callgrind_count import count, unit, valgrind
from instant import Plugin  # benchmarks/instant.py: run as a script, its folder is on sys.path
from patchwire.connector import Attempt
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.types import CompletionRequest, Message

ROWS = (
    "baseline",
    "full",
    "no-breaker",
    "no-retry",
    "no-metrics",
    "no-log",
    "no-sinks",
    "limiter",
    "cache-miss",
    "no-deadline",
    "no-checks",
    "no-auth",
    "bare",
)
TABLES: dict[str, dict[str, Any]] = {
    "no-breaker": {"breaker": {"enabled": False}},
    "no-retry": {"retry": {"max_attempts": 1}},
    "limiter": {"limits": {"requests_per_second": 1e9, "max_concurrency": 100_000}},
    "cache-miss": {"cache": {"ttl": 60}},
}
SINKS_OFF = {
    "no-metrics": ("metrics",),
    "no-log": ("logging",),
    "no-sinks": ("metrics", "logging"),
    "bare": ("metrics", "logging"),
}
TABLES["bare"] = {"breaker": {"enabled": False}, "retry": {"max_attempts": 1}}
# The stages a row replaces (see the rows above); "bare" replaces them all.
STAGES_OFF = {
    "no-deadline": ("deadline",),
    "no-checks": ("checks",),
    "no-auth": ("auth",),
    "bare": ("deadline", "checks", "auth"),
}


def take_out(stages: tuple[str, ...]) -> None:
    """Replace pipeline stages in this process, to price what each guarantee costs."""
    from patchwire.pipeline import attempts

    def unchecked(
        record: object, target: object, operation: str, request: Any, call_id: int
    ) -> Any:
        return request

    async def unattached(scheme: object, attempt: object, base_url: object) -> None:
        return None

    if "deadline" in stages:
        scope = contextlib.nullcontext()
        attempts.deadline_scope = lambda clock, ends: scope  # type: ignore[assignment]
    if "checks" in stages:
        attempts.validated = unchecked  # type: ignore[assignment]
        attempts.check_usage = lambda usage: None  # type: ignore[assignment]
    if "auth" in stages:
        attempts.attach = unattached  # type: ignore[assignment]


async def child(row: str, calls: int) -> None:
    """Make ``calls`` calls in configuration ``row`` (run under callgrind by the parent)."""
    take_out(STAGES_OFF.get(row, ()))
    host = PluginHost(load_entry_points=False)
    host.register(Plugin(), "instant")
    table = {"type": "instant", **TABLES.get(row, {})}
    async with Hub.from_dict({"connectors": {"i": table}}, host=host) as hub:
        for name in SINKS_OFF.get(row, ()):
            hub.bus.remove(name)
        model = hub.model("i:m")
        if row == "baseline":
            connector = hub.runtime("i").connector
            attempt = Attempt(1, hub.clock, None)  # type: ignore[arg-type]
            request = CompletionRequest("m", (Message("user", "hi"),))
            for _ in range(calls):
                await connector.complete(request, attempt)
        elif row == "cache-miss":
            for n in range(calls):  # a new prompt each call: the key, a miss, a store
                await model.complete(f"hi {n}", temperature=0)
        else:
            for _ in range(calls):
                await model.complete("hi")


def run_child(row: str, calls: int, found: str | None) -> float:
    """Instructions (or CPU nanoseconds without valgrind) for one child run."""
    return count([sys.executable, __file__, "--child", row, "--calls", str(calls)], found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1200)
    parser.add_argument("--only", default=",".join(ROWS))
    parser.add_argument("--child")
    args = parser.parse_args()
    if args.child:
        asyncio.run(child(args.child, args.calls))
        return
    found = valgrind()
    few = max(1, args.calls // 6)
    per_call: dict[str, float] = {}
    for row in args.only.split(","):
        if row not in ROWS:
            raise SystemExit(f"unknown row {row!r}; rows: {', '.join(ROWS)}")
        many, base = run_child(row, args.calls, found), run_child(row, few, found)
        per_call[row] = (many - base) / (args.calls - few)
    full = per_call.get("full")
    print(f"{'row':<12} {unit(found) + ' per call':>28} {'against full':>14}")
    for row, value in per_call.items():
        against = "" if full is None or row == "full" else f"{value - full:+14,.0f}"
        print(f"{row:<12} {value:>28,.0f} {against:>14}")
    print(f"\n{args.calls} and {few} calls per row, differenced; Python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
