"""``patchwire simulate WIRE``: a provider simulator on loopback, for testing applications offline.

    patchwire simulate openai --port 8080 --fail-rate 0.1 --rate-limit-rate 0.05 --rpm 60

It prints the base URL and a configuration that points a connector at it, then serves
until Ctrl-C (or ``--duration`` seconds) and closes with what it saw. The wire formats
come from installed plugins; this module imports the simulator only when it runs, so
``patchwire --help`` stays fast.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from patchwire.testing.simulator import Simulator

__all__ = ["configure", "run"]

KEY_ENV = "PATCHWIRE_SIM_KEY"

# (flag, FaultMix field, what it injects)
_RATES = (
    ("--fail-rate", "server_error", "5xx server errors"),
    ("--rate-limit-rate", "rate_limited", "429 rate limits with a retry hint"),
    ("--quota-rate", "quota_exhausted", "429 quota-exhausted errors (not retryable)"),
    ("--overload-rate", "overloaded", "overloaded answers (503, or 529 for Anthropic)"),
    ("--reset-rate", "reset", "connections closed without an answer"),
    ("--hang-rate", "hang", "requests never answered"),
    ("--malformed-rate", "malformed", "200s whose body is not valid JSON or not the schema"),
    ("--truncate-rate", "truncated", "200s cut short of their Content-Length"),
    ("--broken-stream-rate", "broken_stream", "streams cut after their first chunks"),
)


def _share(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a share between 0 and 1, got {text}")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not value >= 0.0:
        raise argparse.ArgumentTypeError(f"expected seconds >= 0, got {text}")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "wire", help="the wire format to simulate, from an installed plugin (e.g. openai)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument(
        "--port", type=int, default=8080, help="port to listen on (0: any free port)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed for the fault draws (same seed, same run)"
    )
    faults = parser.add_argument_group("faults (shares of requests, between 0 and 1)")
    for flag, field, meaning in _RATES:
        faults.add_argument(flag, dest=field, type=_share, default=0.0, help=meaning)
    faults.add_argument(
        "--retry-after",
        type=_seconds,
        default=0.2,
        help="seconds the injected 429s ask clients to wait (default 0.2)",
    )
    faults.add_argument(
        "--latency", type=_seconds, default=0.0, help="seconds added to every answer"
    )
    faults.add_argument(
        "--latency-jitter",
        type=_seconds,
        default=0.0,
        help="uniform +/- seconds around --latency",
    )
    limits = parser.add_argument_group("rate limits, per API key, with the provider's headers")
    limits.add_argument("--rpm", type=_positive, help="requests per minute")
    limits.add_argument("--tpm", type=_positive, help="tokens per minute")
    parser.add_argument(
        "--key",
        action="append",
        dest="keys",
        metavar="KEY",
        help="an API key to accept (repeatable); others get the provider's 401 (default: any)",
    )
    parser.add_argument(
        "--embedding-dimensions",
        type=_positive,
        help="size of embedding vectors when a request names none (default: the model's)",
    )
    parser.add_argument(
        "--duration",
        type=_seconds,
        help="stop after this many seconds instead of waiting for Ctrl-C",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the address and the final stats as JSON"
    )


def _example(sim: Simulator, keys: list[str] | None) -> str:
    wire = sim.wire
    note = "one of the --key values" if keys else "any value"
    return "\n".join(
        [
            f"  [connectors.{wire.connector_type}]",
            f'  type = "{wire.connector_type}"',
            f'  base_url = "{sim.base_url}"',
            f'  api_key = "env:{KEY_ENV}"    # {note}: export {KEY_ENV}=sk-simulated',
            "",
            f'  # then: hub.model("{wire.connector_type}:{wire.example_model}")',
        ]
    )


def _banner(sim: Simulator, args: argparse.Namespace) -> str:
    faults = sim.faults
    injected = [f"{kind.value} {p:.0%}" for kind, p in faults.probabilities().items() if p > 0]
    latency = (
        f"{faults.latency:g} s ± {faults.latency_jitter:g} s"
        if faults.latency or faults.latency_jitter
        else "none added"
    )
    limits = [
        f"{value} {unit}/min"
        for value, unit in (
            (sim.limits.requests_per_minute, "requests"),
            (sim.limits.tokens_per_minute, "tokens"),
        )
        if value is not None
    ]
    return "\n".join(
        [
            f"patchwire simulate: {sim.wire.name} simulator on {sim.base_url} (seed {sim.seed})",
            f"  faults: {', '.join(injected) or 'none'}; latency: {latency}",
            f"  limits per key: {', '.join(limits) or 'none'}",
            f"  what it saw: {sim.root_url}/stats",
            "",
            "Point a connector at it (patchwire.toml):",
            "",
            _example(sim, args.keys),
            "",
            "Press Ctrl-C to stop."
            if args.duration is None
            else f"Stopping in {args.duration:g} s.",
        ]
    )


async def _serve(args: argparse.Namespace, simulator: Simulator, stats: dict[str, Any]) -> None:
    """Serve until the duration ends or the task is cancelled (Ctrl-C), then fill ``stats``."""
    try:
        await simulator.start()
    except OSError as exc:
        raise SystemExit(
            f"patchwire simulate: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}"
        ) from None
    try:
        if args.json:
            start = {
                "wire": simulator.wire.name,
                "base_url": simulator.base_url,
                "stats_url": simulator.root_url + "/stats",
                "seed": simulator.seed,
            }
            print(json.dumps(start), flush=True)
        else:
            print(_banner(simulator, args), flush=True)
        if args.duration is None:
            await asyncio.Event().wait()
        else:
            await asyncio.sleep(args.duration)
    finally:
        stats.update(simulator.stats().to_dict())
        await simulator.aclose()


def run(args: argparse.Namespace) -> int:
    from patchwire.testing.simulator import FaultMix, SimLimits, Simulator

    try:
        faults = FaultMix(
            **{field: getattr(args, field) for _, field, _ in _RATES},
            latency=args.latency,
            latency_jitter=args.latency_jitter,
            retry_after=args.retry_after,
        )
        limits = SimLimits(requests_per_minute=args.rpm, tokens_per_minute=args.tpm)
    except ValueError as exc:
        raise SystemExit(f"patchwire simulate: {exc}") from None
    simulator = Simulator(
        args.wire,
        faults=faults,
        limits=limits,
        seed=args.seed,
        keys=args.keys,
        host=args.host,
        port=args.port,
        embedding_dimensions=args.embedding_dimensions,
    )
    result: dict[str, Any] = {}
    try:
        asyncio.run(_serve(args, simulator, result))
    except KeyboardInterrupt:
        # asyncio.run cancelled the server, and _serve closed it and kept its stats.
        pass
    if args.json:
        print(json.dumps({"stats": result}), flush=True)
    elif result:
        print(
            f"\nserved {result['requests']} requests; by status {result['by_status']};"
            f" faults {result['faults'] or 'none'}; limited {result['limited'] or 'none'}",
            file=sys.stderr,
        )
    return 0
