"""``patchwire demo``: a mixed workload against the built-in simulator, offline and keyless.

Two simulated deployments run on loopback: a primary with real rate limits and a fault mix
(5xx, 429s with every hint form, resets, malformed bodies, overload), and a backup. A hub
sends them completions at several priorities through a fallback route, many small
embeddings that the batcher coalesces, repeated deterministic prompts that the cache
answers, questions under a long shared system prompt that the providers' prompt caches
read after the first call (the backup writes it with Anthropic's ``cache_control``), and
rich calls: tool-calling exchanges (the model calls tools, their results go back, it
answers) and structured answers parsed into a type. At the end: the metrics table and a
ledger proving no call was lost.

Core knows no wire format: the connector types and simulators come from installed plugins
(patchwire-openai, and patchwire-anthropic for a cross-provider fallback when installed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import attrs

from patchwire.errors import ConfigError, PatchwireError

__all__ = ["configure", "run", "run_demo"]

DEMO_KEY_ENV = "PATCHWIRE_DEMO_KEY"
DEMO_KEY = "sk-demo-not-a-real-key-0000"
PROMPTS = [
    "Summarise the plot of Hamlet in one sentence.",
    "Write a haiku about rate limits.",
    "Explain exponential backoff to a new engineer.",
    "List three uses of a circuit breaker.",
    "What is a token bucket?",
    "Translate 'good morning' into French.",
]
REPEATED = [
    "What is the capital of France?",
    "Define idempotency in one line.",
    "Name the HTTP status for Too Many Requests.",
]
_HANDBOOK_RULES = (
    "answer in plain words and keep each reply under three sentences",
    "never promise a delivery date that the order system has not confirmed",
    "quote prices in euros with two decimals and say whether tax is included",
    "ask for the order reference before discussing any particular parcel",
    "escalate every complaint about damaged goods to a human colleague",
    "do not repeat a customer's payment details back to them in any form",
)
#: A long system prompt shared by a share of the workload (issue 22): 4,730
#: simulated tokens, above every first-party model's minimum cacheable prefix (4096 for
#: the backup's claude-haiku-4-5), so the providers' prompt caches write and read it.
HANDBOOK = "You are the support assistant of a parcel shop. House rules follow.\n" + "\n".join(
    f"Rule {n}: {_HANDBOOK_RULES[n % len(_HANDBOOK_RULES)]}." for n in range(1, 241)
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--requests", type=int, default=400, help="calls to submit (default 400)")
    parser.add_argument(
        "--fault-rate",
        type=float,
        default=0.15,
        help="share of primary requests that fail (default 0.15)",
    )
    parser.add_argument(
        "--seed", type=int, default=7, help="seed for the workload and the simulators"
    )
    parser.add_argument(
        "--concurrency", type=int, default=32, help="calls in flight at once (default 32)"
    )
    parser.add_argument(
        "--tool-runs",
        type=int,
        default=6,
        help="tool loops a model runs with web, CLI and MCP tools (default 6; 0: none)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--prometheus",
        type=int,
        metavar="PORT",
        help="serve the hub's metrics on 127.0.0.1:PORT (/metrics, /metrics.json) during the"
        " run and after it until Ctrl-C; /metrics is Prometheus' format with patchwire-prometheus",
    )
    parser.add_argument(
        "--otel",
        choices=["console"],
        help="trace the run with patchwire-otel and print the spans and GenAI metrics to"
        " stderr (needs patchwire-otel[console])",
    )


def run(args: argparse.Namespace) -> int:
    if args.requests < 1:
        raise SystemExit("patchwire demo: --requests must be at least 1")
    if not 0 <= args.fault_rate <= 0.9:
        raise SystemExit("patchwire demo: --fault-rate must be between 0 and 0.9")
    shutdown_otel = _otel_console() if args.otel == "console" else None
    try:
        return _run(args)
    finally:
        if shutdown_otel is not None:
            shutdown_otel()


def _otel_console() -> Callable[[], None]:
    """patchwire-otel's console exporters as the global providers, before the hub starts."""
    try:
        from patchwire_otel.console import install_console  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise SystemExit(
            "patchwire demo: --otel needs patchwire-otel: pip install 'patchwire-otel[console]'"
        ) from None
    try:
        shutdown: Callable[[], None] = install_console()
    except RuntimeError as exc:
        raise SystemExit(f"patchwire demo: --otel console: {exc}") from None
    return shutdown


def _run(args: argparse.Namespace) -> int:
    result = asyncio.run(
        run_demo(
            requests=args.requests,
            fault_rate=args.fault_rate,
            seed=args.seed,
            concurrency=args.concurrency,
            progress=not args.json,
            metrics_port=args.prometheus,
        )
    )
    tools: dict[str, Any] | None = None
    if args.tool_runs > 0:
        from patchwire.plugins import default_host
        from patchwire.run_demo import run_tool_demo

        tools = asyncio.run(
            run_tool_demo(
                host=default_host(), seed=args.seed, key_env=DEMO_KEY_ENV, runs=args.tool_runs
            )
        )
        result["tools"] = tools
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        print(
            f"patchwire demo: {args.requests} calls, fault rate {args.fault_rate:g}, seed {args.seed}\n"
        )
        print(result["table"])
        print()
        print(result["summary"])
        if tools is not None:
            print(f"\nA model using the hub's tools ({args.tool_runs} runs):\n")
            print(tools["table"])
            print()
            print(tools["summary"])
    lost = result["ledger"]["lost"] + (tools["ledger"]["lost"] if tools else 0)
    return 0 if lost == 0 else 1


class _Progress:
    """A one-line progress bar on stderr (only when it is a terminal or forced)."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total = total
        self.done = 0
        self.failed = 0
        self.enabled = enabled
        self.started = time.monotonic()
        self._last = 0.0

    def tick(self, ok: bool) -> None:
        self.done += 1
        self.failed += not ok
        now = time.monotonic()
        if self.enabled and (now - self._last > 0.05 or self.done == self.total):
            self._last = now
            width = 30
            filled = int(width * self.done / self.total)
            bar = "#" * filled + "-" * (width - filled)
            rate = self.done / max(now - self.started, 1e-6)
            sys.stderr.write(
                f"\r[{bar}] {self.done}/{self.total} calls  {self.failed} failed  {rate:6.0f}/s"
            )
            if self.done == self.total:
                sys.stderr.write("\n")
            sys.stderr.flush()


def _backup_target(connectors: Any, simulators: Any) -> tuple[str, str, str]:
    """A backup on another provider when its plugin is installed, else a second deployment."""
    if "anthropic" in connectors and "anthropic" in simulators:
        return "anthropic", "anthropic", "claude-haiku-4-5"
    return "openai", "openai", "gpt-4o-mini"


async def run_demo(
    *,
    requests: int,
    fault_rate: float,
    seed: int,
    concurrency: int,
    progress: bool,
    metrics_port: int | None = None,
) -> dict[str, Any]:
    from patchwire.hub import Hub
    from patchwire.plugins import default_host
    from patchwire.testing.simulator import FaultMix, SimLimits, Simulator
    from patchwire.types import Message

    host = default_host()
    regs = host.registries
    if "openai" not in regs.connectors or "openai" not in regs.simulators:
        raise ConfigError(
            "the demo needs the OpenAI connector and its simulator: install patchwire-openai"
            f" (installed connector types: {', '.join(sorted(regs.connectors)) or 'none'})"
        )
    os.environ.setdefault(DEMO_KEY_ENV, DEMO_KEY)
    backup_type, backup_wire, backup_model = _backup_target(regs.connectors, regs.simulators)
    share = fault_rate / 5
    primary_faults = FaultMix(
        server_error=share * 2,
        rate_limited=share,
        overloaded=share,
        reset=share / 2,
        malformed=share / 2,
        latency=0.004,
        latency_jitter=0.003,
    )
    primary = Simulator(
        "openai",
        faults=primary_faults,
        limits=SimLimits(requests_per_minute=6000, tokens_per_minute=2_000_000),
        seed=seed,
        plugin_host=host,
    )
    backup = Simulator(
        backup_wire,
        faults=FaultMix(server_error=0.02, latency=0.006, latency_jitter=0.003),
        seed=seed + 1,
        plugin_host=host,
    )
    async with primary, backup:
        retry = {"max_attempts": 4, "initial": 0.02, "cap": 0.5, "deadline": 15}
        config = {
            "connectors": {
                "primary": {
                    "type": "openai",
                    "base_url": primary.base_url,
                    "api_key": f"env:{DEMO_KEY_ENV}",
                    "timeout": 2,
                    "retry": retry,
                    "limits": {"requests_per_second": 400, "max_concurrency": 24},
                    "cache": {"ttl": 600},
                    "breaker": {"min_calls": 40, "failure_ratio": 0.6, "window": 10, "open_for": 1},
                },
                "backup": {
                    "type": backup_type,
                    "base_url": backup.base_url,
                    "api_key": f"env:{DEMO_KEY_ENV}",
                    "timeout": 2,
                    "retry": retry,
                    # Breakpoints on the system prompt: the handbook is written once and
                    # read after (a connector setting of patchwire-anthropic only).
                    **({"prompt_cache": "5m"} if backup_type == "anthropic" else {}),
                },
            },
            "routes": {
                "chat": {
                    "targets": ["primary:gpt-4o-mini", f"backup:{backup_model}"],
                    "priority_targets": [f"backup:{backup_model}"],
                    "priority_threshold": 9,
                },
            },
        }
        rng = random.Random(seed)
        plan: list[tuple[str, str]] = []
        for _ in range(requests):
            roll = rng.random()
            if roll < 0.34:
                plan.append(("complete", rng.choice(PROMPTS)))
            elif roll < 0.42:
                # Under the handbook; a third of them urgent, so they go to the backup.
                kind = "briefed_urgent" if rng.random() < 1 / 3 else "briefed"
                plan.append((kind, rng.choice(PROMPTS)))
            elif roll < 0.50:
                plan.append(_rich_step(rng))
            elif roll < 0.75:
                plan.append(("embed", f"document {rng.randrange(10_000)}: {rng.choice(PROMPTS)}"))
            elif roll < 0.85:
                plan.append(("urgent", rng.choice(PROMPTS)))
            else:
                plan.append(("cached", rng.choice(REPEATED)))
        outcomes: Counter[str] = Counter()
        by_kind: Counter[str] = Counter()
        rich: Counter[str] = Counter()
        bar = _Progress(requests, progress and sys.stderr.isatty())
        gate = asyncio.Semaphore(concurrency)
        hub = Hub.from_dict(config, source="<demo>", host=host, seed=seed)
        started = time.monotonic()
        async with hub:
            if metrics_port is not None:
                server = await hub.serve_metrics(port=metrics_port)
                sys.stderr.write(f"metrics: {server.url}/metrics\n")
            chat = hub.model("chat")
            embedder = hub.model("primary:text-embedding-3-small")

            async def one(kind: str, text: str) -> None:
                async with gate:
                    by_kind[kind] += 1
                    try:
                        if kind == "complete":
                            await chat.complete(text, max_tokens=40, priority=rng.choice((0, 1, 2)))
                        elif kind == "urgent":
                            await chat.complete(text, max_tokens=40, priority=9)
                        elif kind in ("briefed", "briefed_urgent"):
                            briefed = [Message("system", HANDBOOK), Message("user", text)]
                            urgency = 9 if kind == "briefed_urgent" else 0
                            await chat.complete(briefed, max_tokens=40, priority=urgency)
                        elif kind == "embed":
                            await embedder.embed(text)
                        elif kind in _RICH_KINDS:
                            await _rich_call(chat, kind, text, rich)
                        else:
                            await chat.complete(text, max_tokens=20, temperature=0)
                    except PatchwireError as err:
                        outcomes[f"failed:{err.category.value}"] += 1
                        bar.tick(False)
                        return
                    outcomes["succeeded"] += 1
                    bar.tick(True)

            await asyncio.gather(*(one(kind, text) for kind, text in plan))
            elapsed = time.monotonic() - started
            snapshot = hub.metrics()
            if metrics_port is not None:
                sys.stderr.write(f"{snapshot.render_table()}serving these metrics until Ctrl-C\n")
                try:
                    await asyncio.Event().wait()
                except asyncio.CancelledError:
                    pass  # Ctrl-C: asyncio.run cancels this task; finish and report as usual.
        failed = {k.split(":", 1)[1]: v for k, v in outcomes.items() if k.startswith("failed:")}
        succeeded, failed_total = outcomes["succeeded"], sum(failed.values())
        ledger: dict[str, Any] = {
            "submitted": requests,
            "succeeded": succeeded,
            "failed": failed_total,
            "failed_by_category": failed,
            "lost": requests - succeeded - failed_total,
        }
        sims = {"primary": _stats(primary), "backup": _stats(backup)}
        rows = snapshot.connectors
        cost = {
            "billed": sum(row.cost for row in rows),
            "saved_by_caching": sum(row.cache_savings for row in rows),
            "calls_of_unknown_cost": sum(row.cost_unknown for row in rows),
        }
        rich_result = _rich_result(rich, rows)
    summary = (
        f"ledger: submitted {ledger['submitted']} = succeeded {ledger['succeeded']}"
        f" + failed with a classified error {ledger['failed']}"
        + (f" ({', '.join(f'{k} {v}' for k, v in sorted(failed.items()))})" if failed else "")
        + f"; lost = {ledger['lost']}\n"
        f"workload: {dict(by_kind)} in {elapsed:.2f} s ({requests / elapsed:.0f} calls/s);"
        f" backup: {backup_type}:{backup_model}\n"
        f"simulators saw: primary {sims['primary']}, backup {sims['backup']}\n"
        f"cost: ${cost['billed']:.6f} billed, ${cost['saved_by_caching']:.6f} saved by caching"
        f" ({cost['calls_of_unknown_cost']} calls of unknown cost; see 'patchwire prices')\n"
        f"rich calls: {rich_result['tool_exchanges']} tool exchanges"
        f" ({rich_result['tool_calls']} tool calls returned),"
        f" {rich_result['structured_answers']} structured answers,"
        f" {rich_result['invalid_outputs']} replies that failed validation"
    )
    return {
        "ledger": ledger,
        "metrics": snapshot.to_dict(),
        "table": snapshot.render_table(),
        "summary": summary,
        "cost": cost,
        "rich": rich_result,
        "elapsed": elapsed,
        "simulators": sims,
    }


# --- rich calls (issue 15): tool-calling exchanges and structured answers -----------------

_RICH_KINDS = ("tools", "structured")
_ORDER_QUESTIONS = [
    "Where is order A-1001, and what would shipping another to Portugal cost?",
    "Check order B-2002 and quote shipping 3 kg to Japan.",
    "Has order C-3003 shipped? Also quote 1.5 kg to Canada.",
]


def check_order(order_id: str) -> str:
    """The status of an order.

    Args:
        order_id: the order's reference, e.g. A-1001
    """
    return f"order {order_id}: shipped"


def shipping_quote(country: str, weight_kg: float) -> str:
    """A shipping quote.

    Args:
        country: the destination country
        weight_kg: the parcel's weight in kilograms
    """
    return f"{weight_kg:g} kg to {country}: 12.50 EUR"


_DEMO_TOOLS: dict[str, Callable[..., str]] = {
    "check_order": check_order,
    "shipping_quote": shipping_quote,
}


@attrs.frozen
class Triage:
    """The structured answer the demo asks for."""

    topic: str
    urgent: bool
    steps: list[str]


def _rich_step(rng: random.Random) -> tuple[str, str]:
    if rng.random() < 0.5:
        return "tools", rng.choice(_ORDER_QUESTIONS)
    return "structured", rng.choice(PROMPTS)


async def _rich_call(chat: Any, kind: str, text: str, done: Counter[str]) -> None:
    """One tool-calling exchange (both turns) or one structured answer; raises as calls do."""
    from patchwire.parts import ToolResultPart
    from patchwire.types import Message

    if kind == "structured":
        reply = await chat.complete(text, output=Triage)
        done["structured_answers"] += isinstance(reply.parsed, Triage)
        return
    tools = list(_DEMO_TOOLS.values())
    history = [Message("user", text)]
    first = await chat.complete(history, tools=tools)
    results = [
        ToolResultPart.for_call(call, _DEMO_TOOLS[call.name](**call.arguments))
        for call in first.tool_calls
    ]
    if results:
        await chat.complete([*history, first.message, Message("user", results)], tools=tools)
    done["tool_exchanges"] += 1


def _rich_result(done: Counter[str], rows: Any) -> dict[str, int]:
    return {
        "tool_exchanges": done["tool_exchanges"],
        "structured_answers": done["structured_answers"],
        "tool_calls": sum(row.tool_calls for row in rows),
        "invalid_outputs": sum(sum(row.invalid_outputs.values()) for row in rows),
    }


def _stats(sim: Any) -> dict[str, Any]:
    stats = sim.stats()
    to_dict = getattr(stats, "to_dict", None)
    data = to_dict() if callable(to_dict) else dict(vars(stats))
    keep = ("requests", "faults", "by_status")
    return {k: v for k, v in data.items() if k in keep} or data
