"""Issue 22's figure: what ``patchwire demo`` costs under today's pricing rules and under the
old ones, and which rules make the difference.

One demo run (``run_demo``: 400 calls, fault rate 0.15, ``--seed 7`` by default; the
tool-loop part is not included) goes through the real Hub pipeline against the
simulators, with the pipeline's ``Recorder.succeeded`` wrapped so every call it bills
(not the replies patchwire's own cache served, which cost nothing) is priced twice:

* new: the bill the pipeline computed (``patchwire.prices.bill``: cache writes at 1.25x
  or 2x input per TTL class, cache reads at the cached rate, context and service tiers);
  the figures add up to the demo summary's "billed" line;
* old: the rule at commit 8449e17 (``PriceTable.cost`` in core/src/patchwire/prices.py):
  ``(input - cached) x input + cached x cached rate + output x output``, so cache writes
  were plain input, with no 1-hour class and no tiers, at that commit's plugin rates
  (``OLD_RATES``, copied from the plugins' prices.py at 8449e17).

The difference is broken down by rule: cache writes (5m, 1h) are their charge less the
same tokens at the input rate, cache reads their charge less the old cached rate, and
"other" is whatever remains (tiers, per-unit charges).

The totals move by about 2 % from run to run (the demo's faults are seeded, but its
timing decides some fallbacks and breaker trips); the difference does not.

Run: .venv/bin/python benchmarks/demo_cost.py [--seed 7] [--requests 400]
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections import defaultdict
from typing import Any

from patchwire.demo import DEMO_KEY, DEMO_KEY_ENV, run_demo
from patchwire.pipeline.record import Recorder
from patchwire.prices import Bill
from patchwire.types import Usage

#: (connector type, model): (input, output, cached input) per million tokens at 8449e17
#: (plugins/patchwire-*/src/*/prices.py); cached None meant the input rate.
OLD_RATES: dict[tuple[str, str], tuple[float, float, float | None]] = {
    ("openai", "gpt-4o-mini"): (0.15, 0.60, 0.075),
    ("openai", "text-embedding-3-small"): (0.02, 0.0, None),
    ("anthropic", "claude-haiku-4-5"): (1.0, 5.0, 0.10),
}
RULES = ("cache_write_5m", "cache_write_1h", "cache_read", "other")


def old_cost(rates: tuple[float, float, float | None], usage: Usage) -> float:
    """PriceTable.cost at 8449e17: cache writes are plain input."""
    input_rate, output_rate, cached_rate = rates
    cached = min(usage.cached_input_tokens, usage.input_tokens)
    read_rate = input_rate if cached_rate is None else cached_rate
    return (
        (usage.input_tokens - cached) * input_rate
        + cached * read_rate
        + usage.output_tokens * output_rate
    ) / 1_000_000


def differences(
    rates: tuple[float, float, float | None], usage: Usage, new: Bill
) -> dict[str, float]:
    """What each rule adds over the old rule (clamped as patchwire.prices.bill clamps)."""
    input_rate, _, cached_rate = rates
    prompt = max(0, usage.input_tokens)
    read = min(max(0, usage.cached_input_tokens), prompt)
    written = min(max(0, usage.cache_creation_input_tokens), prompt - read)
    written_1h = min(max(0, usage.cache_creation_1h_input_tokens), written)
    charges = dict(new.charges)
    old_read_rate = input_rate if cached_rate is None else cached_rate
    return {
        "cache_write_5m": charges.get("cache_write_5m", 0.0)
        - (written - written_1h) * input_rate / 1e6,
        "cache_write_1h": charges.get("cache_write_1h", 0.0) - written_1h * input_rate / 1e6,
        "cache_read": charges.get("cache_read", 0.0) - read * old_read_rate / 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()

    billed: list[tuple[str, str, Usage, Bill, float | None]] = []
    original = Recorder.succeeded

    def recording(self: Recorder, target: Any, *args: Any, **kwargs: Any) -> float:
        # succeeded(target, operation, call_id, start, attempts, usage, cost, cached, ...)
        usage, cost, cached = args[4], args[5], args[6]
        if usage is not None and not cached and target.model is not None:
            kind = target.runtime.config.type
            again = self.prices.bill(kind, target.model, usage)  # the same bill, by rule
            billed.append((kind, target.model, usage, again, cost))
        return original(self, target, *args, **kwargs)

    Recorder.succeeded = recording  # type: ignore[method-assign]
    os.environ.setdefault(DEMO_KEY_ENV, DEMO_KEY)
    try:
        result = asyncio.run(
            run_demo(
                requests=args.requests,
                fault_rate=0.15,
                seed=args.seed,
                concurrency=32,
                progress=False,
            )
        )
    finally:
        Recorder.succeeded = original  # type: ignore[method-assign]

    new_total = old_total = 0.0
    by_rule: dict[str, float] = defaultdict(float)
    tokens: dict[str, int] = defaultdict(int)
    unknown = 0
    for connector_type, model, usage, new, cost in billed:
        rates = OLD_RATES.get((connector_type, model))
        if new.total is None or rates is None or cost is None:
            unknown += 1
            continue
        assert abs(new.total - cost) < 1e-12, (model, usage, new, cost)
        old = old_cost(rates, usage)
        new_total += new.total
        old_total += old
        parts = differences(rates, usage, new)
        for rule, amount in parts.items():
            by_rule[rule] += amount
        by_rule["other"] += new.total - old - sum(parts.values())
        tokens["read"] += usage.cached_input_tokens
        tokens["written_5m"] += (
            usage.cache_creation_input_tokens - usage.cache_creation_1h_input_tokens
        )
        tokens["written_1h"] += usage.cache_creation_1h_input_tokens

    print(
        f"patchwire demo --seed {args.seed} --requests {args.requests}: {len(billed)} calls billed"
        f" ({unknown} of unknown cost, left out); ledger lost = {result['ledger']['lost']}"
    )
    print(
        f"prompt cache: {tokens['read']:,} tokens read, {tokens['written_5m']:,} written (5m),"
        f" {tokens['written_1h']:,} written (1h)"
    )
    print(f"cost under the new rules: ${new_total:.6f}")
    print(f"cost under the old rules: ${old_total:.6f}   (8449e17: cache writes as plain input)")
    print(f"difference:               ${new_total - old_total:+.6f}")
    for rule in RULES:
        print(f"  {rule:<15} ${by_rule[rule]:+.6f}")
    print(
        f"demo summary: ${result['cost']['billed']:.6f} billed,"
        f" ${result['cost']['saved_by_caching']:.6f} saved by caching (prompt caches and patchwire's)"
    )


if __name__ == "__main__":
    main()
