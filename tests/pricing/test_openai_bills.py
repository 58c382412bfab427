"""OpenAI bills, from chat-completion replies' ``usage`` and ``service_tier``.

Rates (openai.com pricing pages), per million tokens: gpt-4o-mini $0.15 input, $0.075
cached, $0.60 output; o4-mini $1.10 / $4.40 (reasoning billed as output); gpt-5 $1.25 /
$0.125 cached / $10, priority $2.50 / $0.25 / $20 (2x), flex and batch half; gpt-4.1
$2 / $8 at any prompt length, batch half. Expected figures are in micro-dollars.
"""

from __future__ import annotations

from typing import Any

import pytest
from patchwire.prices import PriceTable
from patchwire_openai.connector import _usage


def _reply(
    prompt: int, completion: int, cached: int = 0, reasoning: int = 0, tier: str = "default"
) -> dict[str, Any]:
    return {
        "object": "chat.completion",
        "service_tier": tier,
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": reasoning,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
    }


CASES = [
    pytest.param(
        "gpt-4o-mini",
        _reply(20_000, 500, cached=15_000),
        # uncached 5000 x 0.15 = 750; cached 15000 x 0.075 = 1125; output 500 x 0.60 = 300
        2175,
        {"input": 750, "cache_read": 1125, "output": 300},
        id="cached-prompt",
    ),
    pytest.param(
        "o4-mini",
        _reply(3000, 9000, reasoning=8000),
        # 3000 x 1.10 = 3300; visible 1000 x 4.40 = 4400; reasoning 8000 x 4.40 = 35200
        42_900,
        {"input": 3300, "output": 4400, "reasoning": 35_200},
        id="reasoning-heavy",
    ),
    pytest.param(
        "gpt-5",
        _reply(10_000, 2000, cached=4000, tier="flex"),
        # (6000 x 1.25 + 4000 x 0.125 + 2000 x 10) x 0.5 = (7500 + 500 + 20000) x 0.5
        14_000,
        {"input": 3750, "cache_read": 250, "output": 10_000},
        id="flex-tier",
    ),
    pytest.param(
        "gpt-5",
        _reply(10_000, 1000, tier="priority"),
        # 10000 x 2.50 = 25000; 1000 x 20 = 20000
        45_000,
        {"input": 25_000, "output": 20_000},
        id="priority-tier",
    ),
    pytest.param(
        "gpt-4.1",
        _reply(100_000, 5000, tier="batch"),
        # (100000 x 2 + 5000 x 8) x 0.5 = 120000
        120_000,
        {"input": 100_000, "output": 20_000},
        id="batch-tier",
    ),
    pytest.param(
        "gpt-4.1",
        _reply(900_000, 1000),
        # no long-context surcharge on gpt-4.1: 900000 x 2 = 1800000; 1000 x 8 = 8000
        1_808_000,
        {"input": 1_800_000, "output": 8000},
        id="long-prompt-at-flat-rates",
    ),
]


@pytest.mark.parametrize(("model", "reply", "micro", "lines"), CASES)
def test_openai_cost_matches_the_pricing_page_to_the_micro_dollar(
    prices: PriceTable, model: str, reply: dict[str, Any], micro: int, lines: dict[str, int]
) -> None:
    bill = prices.bill("openai", model, _usage(reply["usage"], reply["service_tier"]))
    assert bill.missing == ()
    assert bill.total is not None and round(bill.total * 1e6, 6) == micro
    charges = dict(bill.charges)
    for rule, amount in lines.items():
        assert round(charges[rule] * 1e6, 6) == amount, rule


def test_a_priority_call_on_a_model_without_a_listed_priority_rate_costs_unknown(
    prices: PriceTable,
) -> None:
    reply = _reply(1000, 100, tier="priority")
    bill = prices.bill("openai", "o3", _usage(reply["usage"], reply["service_tier"]))
    assert bill.total is None and bill.missing == ("service_tier:priority",)


def test_a_service_tier_that_is_not_a_short_name_is_not_kept() -> None:
    reply = _reply(10, 1, tier="x" * 500)
    assert _usage(reply["usage"], reply["service_tier"]).service_tier is None
