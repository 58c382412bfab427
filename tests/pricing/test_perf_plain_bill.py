"""Issue 19: a call that used only the input and output rates (no context tier, a standard
service tier, no prompt cache, no reasoning, no per-unit charge: most calls) is billed by
bill()'s short path, and Bill.cost() stores its Cost's slots itself, summing the charges
in a loop and building the breakdown dict on its first read.

Invariant: for every price and usage, bill() gives the Bill the full rule-by-rule path
gives, to the bit (repr shows every float exactly, the sign of a zero and nan included),
and cost() gives the Cost that Cost(sum(amounts), charges, savings, currency) gives.
"""

from __future__ import annotations

import copy
import pickle

from hypothesis import given
from hypothesis import strategies as st
from patchwire.prices import Bill, Cost, Price, bill
from patchwire.prices.bill import _by_rule
from patchwire.prices.model import STANDARD_TIERS
from patchwire.types import Usage

rates = st.floats(0, 1000, allow_nan=False, allow_infinity=False) | st.sampled_from([0.0, 0.15])
optional_rates = st.none() | rates
counts = st.integers(-5, 10**7) | st.sampled_from([0, 1, -1])
tiers = st.none() | st.sampled_from(["", *sorted(STANDARD_TIERS), "batch", "flex", "x"])

prices = st.builds(
    Price,
    rates,
    rates,
    optional_rates,  # cached input: above the input rate too (the savings' -0.0)
    cache_write_5m_per_million=optional_rates,
    cache_write_1h_per_million=optional_rates,
    reasoning_output_per_million=optional_rates,
    service_tiers=st.sampled_from([{}, {"batch": 0.5, "flex": None}]),
    per_unit=st.sampled_from([{}, {"web_search": 0.01}]),
    currency=st.sampled_from(["USD", "EUR"]),
)
# Mostly plain usages (the short path), some with every other rule in use.
plain_usages = st.builds(Usage, counts, counts, service_tier=tiers)
usages = plain_usages | st.builds(
    Usage,
    counts,
    counts,
    st.sampled_from([0, 0, 3, -2]),
    st.sampled_from([0, 0, 4]),
    st.sampled_from([0, 0, 5, -1]),
    st.sampled_from([0, 0, 2]),
    st.sampled_from([0, 0, 1, -1]),
    service_tier=tiers,
)


def _reference(price: Price, usage: Usage) -> Bill:
    """bill() without its short path: every rule, as before issue 19's change."""
    prompt = usage.input_tokens if usage.input_tokens > 0 else 0
    return _by_rule(price, usage, prompt, usage.service_tier or "standard")


@given(price=prices, usage=usages)
def test_the_bill_is_the_full_rules_bill(price: Price, usage: Usage) -> None:
    billed, reference = bill(price, usage), _reference(price, usage)
    assert type(billed) is Bill
    assert repr(billed) == repr(reference)
    assert billed == reference or billed.cache_savings != billed.cache_savings  # nan
    assert repr(billed.total) == repr(reference.total)


def _cost_as_built(billed: Bill) -> Cost | None:
    """What cost() gave before issue 19's change: the class call."""
    if billed.missing:
        return None
    amounts = [amount for _, amount in billed.charges]
    return Cost(sum(amounts), billed.charges, billed.cache_savings, billed.currency)


@given(price=prices, usage=usages)
def test_the_cost_is_the_built_one(price: Price, usage: Usage) -> None:
    billed = bill(price, usage)
    cost, built = billed.cost(), _cost_as_built(billed)
    if built is None:
        assert cost is None
        return
    assert cost is not None and type(cost) is Cost
    assert repr(float(cost)) == repr(float(built))
    assert repr(cost.cache_savings) == repr(built.cache_savings)
    assert cost.currency == built.currency
    assert cost.breakdown == built.breakdown == dict(billed.charges)
    assert cost.breakdown is cost.breakdown  # built once, then the same dict
    for again in (pickle.loads(pickle.dumps(cost)), copy.copy(cost), copy.deepcopy(cost)):
        assert type(again) is Cost and float(again) == float(cost)
        assert again.breakdown == cost.breakdown and again.currency == cost.currency


@given(
    charges=st.lists(
        st.tuples(st.sampled_from(["input", "output", "cache_read"]), st.floats(0, 10)),
        max_size=4,
    ).map(tuple)
)
def test_any_bills_cost_sums_as_sum_does(charges: tuple[tuple[str, float], ...]) -> None:
    cost = Bill(charges).cost()
    assert cost is not None
    assert repr(float(cost)) == repr(float(sum(amount for _, amount in charges)))
    assert cost.breakdown == dict(charges)
