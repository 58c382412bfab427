"""Issue 14 item 5 figures through the real Hub pipeline (a cross-check of
tests/resilience/test_budget.py's figures(), which drives RetryBudget + RetryPolicy alone).

32 concurrent callers, 600 calls, retry.max_attempts = 8, breaker off (to isolate the
budget), the fake connector answering each attempt with a 503 (DegradedError) at the given
independent rate, else "ok" after 0.05-1.0 s, all on patchwire's VirtualClock. Seeded.

Run: .venv/bin/python benchmarks/retry_budget.py [seeds]
"""

from __future__ import annotations

import asyncio
import random
import sys
from typing import Any

from patchwire.clock import VirtualClock
from patchwire.errors import DegradedError, PatchwireError
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.testing import Delay, FakeScript
from patchwire.testing.fake import FakeConnector, FakePlugin

CALLERS, CALLS, MAX_ATTEMPTS = 32, 600, 8


async def run(rate: float, seed: int) -> tuple[int, int, int]:
    """Returns (calls failed for lack of budget, calls failed otherwise, attempts)."""
    rng = random.Random(seed)
    attempts = 0

    def answer(request: Any, attempt: Any) -> Any:
        nonlocal attempts
        attempts += 1
        if rng.random() < rate:
            return DegradedError("503 Service Unavailable")
        return Delay(rng.uniform(0.05, 1.0), "ok")

    FakeConnector.scripts.clear()
    FakeConnector.scripts["flaky"] = FakeScript(default=answer)
    host = PluginHost(load_entry_points=False)
    host.register(FakePlugin(), "patchwire.testing.fake", distribution="patchwire")
    table = {
        "type": "fake",
        "retry": {"max_attempts": MAX_ATTEMPTS, "deadline": 86_400},
        "breaker": {"enabled": False},
    }
    budget = other = 0
    async with Hub.from_dict(
        {"connectors": {"flaky": table}}, host=host, clock=VirtualClock(), seed=seed
    ) as hub:
        model = hub.model("flaky:m")
        remaining = iter(range(CALLS))

        async def caller() -> None:
            nonlocal budget, other
            for _ in remaining:
                try:
                    await model.complete("x")
                except PatchwireError as exc:
                    if "retry budget" in exc.message:
                        budget += 1
                    else:
                        other += 1

        await asyncio.gather(*(caller() for _ in range(CALLERS)))
    return budget, other, attempts


def main() -> None:
    seeds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    print(
        f"Hub pipeline, fake connector, virtual clock: {CALLERS} callers, {CALLS} calls,"
        f" max_attempts {MAX_ATTEMPTS}, breaker off, default budget; seeds 0..{seeds - 1}"
    )
    for rate in (0.1, 0.2, 0.3, 1.0):
        results = [asyncio.run(run(rate, seed)) for seed in range(seeds)]
        budget = [r[0] for r in results]
        other = sum(r[1] for r in results)
        load = [r[2] / CALLS for r in results]
        label = "dead provider (100 %)" if rate == 1.0 else f"{rate:.0%} random 503s"
        print(
            f"{label}: failed for lack of budget per run {budget} (total {sum(budget)}"
            f" of {CALLS * seeds}); other failures {other}; load multiple"
            f" min {min(load):.3f}x max {max(load):.3f}x"
        )


if __name__ == "__main__":
    main()
