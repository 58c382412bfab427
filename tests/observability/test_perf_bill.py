"""The bill behind every cost metric, written for speed (issue 19), is the bill of the
plain rules it replaced, to the last bit: the same charges in the same order, the same
unknown rules, the same savings (the sign of a zero included) and the same total, for any
price and any usage, counts out of their containers or negative included."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.prices import Bill, Price, PriceTable, bill
from patchwire.prices.bill import _context_rates
from patchwire.types import Usage

from tests.pricing.test_rules import prices

_PER_MILLION = 1_000_000


def reference_bill(price: Price, usage: Usage) -> Bill:
    """The rules with min and max and the rates' properties, as they read before."""
    missing: list[str] = []
    prompt = max(0, usage.input_tokens)
    rates = _context_rates(price, prompt, missing)  # unchanged: the tiers' rule
    tier = usage.service_tier or "standard"
    factor = price.service_factor(tier)
    if factor is None:
        missing.append(f"service_tier:{tier}")
        factor = 1.0
    read = min(max(0, usage.cached_input_tokens), prompt)
    written = min(max(0, usage.cache_creation_input_tokens), prompt - read)
    written_1h = min(max(0, usage.cache_creation_1h_input_tokens), written)
    written_5m = written - written_1h
    plain = prompt - read - written
    output = max(0, usage.output_tokens)
    reasoning = min(max(0, usage.reasoning_tokens), output)
    charges: list[tuple[str, float]] = []
    for rule, tokens, rate in (
        ("input", plain, rates.input_per_million),
        ("cache_read", read, rates.cached_rate),
        ("cache_write_5m", written_5m, rates.cache_write_5m_per_million),
        ("cache_write_1h", written_1h, rates.cache_write_1h_per_million),
        ("output", output - reasoning, rates.output_per_million),
        ("reasoning", reasoning, rates.reasoning_rate),
    ):
        if tokens == 0:
            continue
        if rate is None:
            missing.append(rule)
        else:
            charges.append((rule, tokens * rate * factor / _PER_MILLION))
    if usage.web_search_requests > 0:
        each = price.unit_price("web_search")
        if each is None:
            missing.append("per_unit:web_search")
        else:
            charges.append(("per_unit:web_search", usage.web_search_requests * each))
    savings = read * (rates.input_per_million - rates.cached_rate)
    for tokens, rate in (
        (written_5m, rates.cache_write_5m_per_million),
        (written_1h, rates.cache_write_1h_per_million),
    ):
        if rate is not None:
            savings -= tokens * (rate - rates.input_per_million)
    return Bill(tuple(charges), tuple(missing), savings * factor / _PER_MILLION, price.currency)


_count = st.sampled_from([0, 0, 1]) | st.integers(-5, 5000)


@st.composite
def usages(draw: st.DrawFn) -> Usage:
    return Usage(
        input_tokens=draw(_count),
        output_tokens=draw(_count),
        cached_input_tokens=draw(_count),
        cache_creation_input_tokens=draw(_count),
        reasoning_tokens=draw(_count),
        cache_creation_1h_input_tokens=draw(_count),
        web_search_requests=draw(_count),
        service_tier=draw(st.sampled_from([None, "standard", "default", "batch", "flex"])),
    )


def _exact(value: float | None) -> object:
    # repr tells 0.0 from -0.0 and every float from its neighbours.
    return None if value is None else (type(value), repr(value))


@settings(max_examples=500, deadline=None)
@given(price=prices(), usage=usages())
def test_the_bill_is_the_plain_rules_bill_to_the_last_bit(price: Price, usage: Usage) -> None:
    got, want = bill(price, usage), reference_bill(price, usage)
    assert [(rule, _exact(amount)) for rule, amount in got.charges] == [
        (rule, _exact(amount)) for rule, amount in want.charges
    ]
    assert got.missing == want.missing and got.currency == want.currency
    assert _exact(got.cache_savings) == _exact(want.cache_savings)
    total = None if want.missing else sum(amount for _, amount in want.charges)
    assert _exact(got.total) == _exact(total)
    cost, expected = got.cost(), want.cost()
    assert (cost is None) == (expected is None) == bool(want.missing)
    if cost is not None and expected is not None:
        assert _exact(float(cost)) == _exact(float(expected))
        assert cost.breakdown == expected.breakdown
        assert _exact(cost.cache_savings) == _exact(expected.cache_savings)
        assert math.isfinite(cost)


def test_an_unknown_models_bill_misses_its_price_every_time() -> None:
    table = PriceTable()
    first = table.bill("openai", "gpt-unknown", Usage(input_tokens=3))
    again = table.bill("openai", "gpt-unknown", Usage(output_tokens=4))
    assert first == again == Bill(charges=(), missing=("price",))
    assert first.total is None and first.cost() is None
