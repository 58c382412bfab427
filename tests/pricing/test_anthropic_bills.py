"""Anthropic bills, from ``usage`` objects shaped like real Messages replies.

Rates (platform.claude.com pricing page), per million tokens: Sonnet 4.5 $3 input,
$15 output, $0.30 cache read, 5-minute write 1.25x = $3.75, 1-hour write 2x = $6; over
200k prompt tokens (input + cache reads + cache writes) $6 / $22.50 / $0.60 / $7.50 / $12.
Opus 4.5 $5 / $25. Haiku 4.5 $1 / $5 / $0.10, 5-minute write $1.25. Batch: half of every
token charge. Web search: $10 per 1,000 searches. Expected figures are in micro-dollars.
"""

from __future__ import annotations

from typing import Any

import pytest
from patchwire.prices import PriceTable
from patchwire_anthropic.connector import _take_counts, usage_from


def _usage(**fields: Any) -> dict[str, Any]:
    return {
        "input_tokens": 0,
        "output_tokens": 0,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "server_tool_use": None,
        "service_tier": "standard",
        **fields,
    }


CASES = [
    pytest.param(
        "claude-sonnet-4-5",
        _usage(
            input_tokens=1200,
            output_tokens=800,
            cache_creation_input_tokens=3000,
            cache_read_input_tokens=10_000,
            cache_creation={"ephemeral_5m_input_tokens": 2000, "ephemeral_1h_input_tokens": 1000},
        ),
        # input 1200 x 3 = 3600; 5m write 2000 x 3.75 = 7500; 1h write 1000 x 6 = 6000;
        # read 10000 x 0.30 = 3000; output 800 x 15 = 12000 -> 32100 micro-dollars
        32_100,
        {"input": 3600, "cache_write_5m": 7500, "cache_write_1h": 6000, "cache_read": 3000},
        id="cache-write-5m-and-1h-plus-read",
    ),
    pytest.param(
        "claude-sonnet-4-5",
        _usage(input_tokens=180_000, output_tokens=2000, cache_read_input_tokens=50_000),
        # prompt 230000 > 200k: long-context rates for the whole request.
        # input 180000 x 6 = 1080000; read 50000 x 0.60 = 30000; output 2000 x 22.5 = 45000
        1_155_000,
        {"input": 1_080_000, "cache_read": 30_000, "output": 45_000},
        id="long-prompt-over-200k",
    ),
    pytest.param(
        "claude-sonnet-4-5",
        _usage(input_tokens=200_000, output_tokens=1000),
        # exactly 200k is not over it: 200000 x 3 = 600000; 1000 x 15 = 15000
        615_000,
        {"input": 600_000, "output": 15_000},
        id="prompt-of-exactly-200k-at-base-rates",
    ),
    pytest.param(
        "claude-opus-4-5",
        _usage(
            input_tokens=2000,
            output_tokens=12_000,
            output_tokens_details={"thinking_tokens": 10_000},
        ),
        # input 2000 x 5 = 10000; visible 2000 x 25 = 50000; thinking 10000 x 25 = 250000
        310_000,
        {"input": 10_000, "output": 50_000, "reasoning": 250_000},
        id="reasoning-heavy",
    ),
    pytest.param(
        "claude-haiku-4-5",
        _usage(
            input_tokens=40_000,
            output_tokens=1500,
            cache_read_input_tokens=8000,
            cache_creation_input_tokens=2000,
            cache_creation={"ephemeral_5m_input_tokens": 2000, "ephemeral_1h_input_tokens": 0},
            service_tier="batch",
        ),
        # (40000 x 1 + 8000 x 0.10 + 2000 x 1.25 + 1500 x 5) x 0.5
        # = (40000 + 800 + 2500 + 7500) x 0.5 = 25400
        25_400,
        {"input": 20_000, "cache_read": 400, "cache_write_5m": 1250, "output": 3750},
        id="batch-tier-with-cache",
    ),
    pytest.param(
        "claude-sonnet-4-5",
        _usage(input_tokens=5000, output_tokens=1000, server_tool_use={"web_search_requests": 3}),
        # 5000 x 3 = 15000; 1000 x 15 = 15000; 3 searches x $0.01 = 30000
        60_000,
        {"per_unit:web_search": 30_000},
        id="web-searches",
    ),
]


@pytest.mark.parametrize(("model", "wire", "micro", "lines"), CASES)
def test_anthropic_cost_matches_the_pricing_page_to_the_micro_dollar(
    prices: PriceTable, model: str, wire: dict[str, Any], micro: int, lines: dict[str, int]
) -> None:
    bill = prices.bill("anthropic", model, usage_from(wire))
    assert bill.missing == ()
    assert bill.total is not None and round(bill.total * 1e6, 6) == micro
    charges = dict(bill.charges)
    for rule, amount in lines.items():
        assert round(charges[rule] * 1e6, 6) == amount, rule


@pytest.mark.parametrize(("model", "wire", "micro", "lines"), CASES)
def test_a_streamed_reply_is_billed_as_the_same_unstreamed_one(
    prices: PriceTable, model: str, wire: dict[str, Any], micro: int, lines: dict[str, int]
) -> None:
    # message_start carries the prompt side, message_delta the cumulative output.
    counts: dict[str, Any] = {}
    _take_counts(counts, {**wire, "output_tokens": 1})
    _take_counts(
        counts,
        {
            "output_tokens": wire["output_tokens"],
            **{k: v for k, v in wire.items() if k == "output_tokens_details"},
        },
    )
    streamed = prices.bill("anthropic", model, usage_from(counts))
    assert streamed == prices.bill("anthropic", model, usage_from(wire))


@pytest.mark.parametrize(
    ("model", "wire", "missing"),
    [
        (
            "claude-sonnet-4-5",
            _usage(input_tokens=10, output_tokens=5, service_tier="priority"),
            "service_tier:priority",
        ),
        ("claude-haiku-5-5", _usage(input_tokens=150_000, output_tokens=5), "context_tier:>100000"),
        (
            "claude-sonnet-4-6",
            _usage(input_tokens=250_000, output_tokens=5),
            "context_tier:>200000",
        ),
    ],
)
def test_a_rule_whose_figure_is_unknown_makes_the_cost_unknown_and_is_named(
    prices: PriceTable, model: str, wire: dict[str, Any], missing: str
) -> None:
    bill = prices.bill("anthropic", model, usage_from(wire))
    assert bill.total is None and bill.cost() is None
    assert bill.missing == (missing,)
