"""Gemini bills, from ``usageMetadata`` objects shaped like real generateContent replies.

Rates (ai.google.dev pricing page), per million tokens: Gemini 2.5 Flash $0.30 input,
$0.03 cached, $2.50 output (thinking included); Gemini 2.5 Pro $1.25 / $0.125 / $10 up to
200k prompt tokens, $2.50 / $0.25 / $15 above; Gemini 3 Pro Preview $2 / $0.20 / $12.
Batch Mode: half. Thoughts are output though not in ``candidatesTokenCount``.
Expected figures are in micro-dollars.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from patchwire.prices import PriceTable
from patchwire_gemini.response import usage_from


def _meta(prompt: int, candidates: int, cached: int = 0, thoughts: int = 0) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": candidates,
        "totalTokenCount": prompt + candidates + thoughts,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}],
    }
    if cached:
        meta["cachedContentTokenCount"] = cached
    if thoughts:
        meta["thoughtsTokenCount"] = thoughts
    return meta


CASES = [
    pytest.param(
        "gemini-2.5-flash",
        _meta(40_000, 1000, cached=30_000),
        None,
        # uncached 10000 x 0.30 = 3000; cached 30000 x 0.03 = 900; output 1000 x 2.50 = 2500
        6400,
        {"input": 3000, "cache_read": 900, "output": 2500},
        id="implicit-cache-hit",
    ),
    pytest.param(
        "gemini-2.5-pro",
        _meta(250_000, 3000, cached=100_000, thoughts=2000),
        None,
        # prompt 250000 > 200k: 150000 x 2.50 = 375000; 100000 x 0.25 = 25000;
        # output 3000 x 15 = 45000; thoughts 2000 x 15 = 30000
        475_000,
        {"input": 375_000, "cache_read": 25_000, "output": 45_000, "reasoning": 30_000},
        id="long-prompt-over-200k",
    ),
    pytest.param(
        "gemini-2.5-pro",
        _meta(200_000, 1000),
        None,
        # exactly 200k: 200000 x 1.25 = 250000; 1000 x 10 = 10000
        260_000,
        {"input": 250_000, "output": 10_000},
        id="prompt-of-exactly-200k-at-base-rates",
    ),
    pytest.param(
        "gemini-3-pro-preview",
        _meta(5000, 800, thoughts=12_000),
        None,
        # 5000 x 2 = 10000; 800 x 12 = 9600; thoughts 12000 x 12 = 144000
        163_600,
        {"input": 10_000, "output": 9600, "reasoning": 144_000},
        id="reasoning-heavy",
    ),
    pytest.param(
        "gemini-2.5-flash",
        _meta(100_000, 10_000),
        "batch",
        # (100000 x 0.30 + 10000 x 2.50) x 0.5 = (30000 + 25000) x 0.5
        27_500,
        {"input": 15_000, "output": 12_500},
        id="batch-mode",
    ),
]


@pytest.mark.parametrize(("model", "meta", "tier", "micro", "lines"), CASES)
def test_gemini_cost_matches_the_pricing_page_to_the_micro_dollar(
    prices: PriceTable,
    model: str,
    meta: dict[str, Any],
    tier: str | None,
    micro: int,
    lines: dict[str, int],
) -> None:
    usage = usage_from(meta)
    assert usage is not None
    # A Batch Mode result is priced as batch; the reply itself does not say so.
    bill = prices.bill("gemini", model, attrs.evolve(usage, service_tier=tier))
    assert bill.missing == ()
    assert bill.total is not None and round(bill.total * 1e6, 6) == micro
    charges = dict(bill.charges)
    for rule, amount in lines.items():
        assert round(charges[rule] * 1e6, 6) == amount, rule


def test_the_flex_tier_on_gemini_is_not_priced_here(prices: PriceTable) -> None:
    usage = usage_from(_meta(1000, 100))
    assert usage is not None
    bill = prices.bill("gemini", "gemini-2.5-flash", attrs.evolve(usage, service_tier="flex"))
    assert bill.total is None and bill.missing == ("service_tier:flex",)
