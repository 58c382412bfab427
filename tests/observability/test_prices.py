from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.prices import Price, PriceTable

MINI = Price(0.15, 0.60, cached_input_per_million=0.075)
FOUR_O = Price(2.50, 10.00)


def table() -> PriceTable:
    return PriceTable({("openai", "gpt-4o"): FOUR_O, ("openai", "gpt-4o-mini"): MINI})


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-4o-mini", MINI),
        ("gpt-4o-mini-2024-07-18", MINI),
        ("gpt-4o-2024-08-06", FOUR_O),
        ("gpt-4o-20240806", FOUR_O),
        ("gpt-4o@20240806", FOUR_O),
        ("gpt-4o-latest", FOUR_O),
        ("gpt-4o-002", FOUR_O),
    ],
)
def test_dated_and_versioned_ids_are_priced_as_their_longest_known_model(
    model: str, expected: Price
) -> None:
    assert table().lookup("openai", model) == expected


@pytest.mark.parametrize(
    "model", ["gpt-4o-audio-preview", "gpt-4", "gpt-4o-mini-tts", "gpt-4o-5", "gpt-4oo"]
)
def test_a_different_model_sharing_a_prefix_is_not_priced_as_it(model: str) -> None:
    """gpt-4o's price must not silently apply to gpt-4o-audio-preview: unknown is honest."""
    assert table().lookup("openai", model) is None
    assert table().cost("openai", model, 1000, 1000) is None


def test_longest_prefix_wins_when_both_are_snapshots() -> None:
    prices = PriceTable({("g", "m"): Price(1, 1), ("g", "m-001"): Price(2, 2)})
    assert prices.lookup("g", "m-001-2024-01-01") == Price(2, 2)
    assert prices.lookup("g", "m-002") == Price(1, 1)


def test_later_entries_override_earlier_ones_and_refresh_memoised_lookups() -> None:
    prices = table()
    assert prices.lookup("openai", "gpt-4o-mini-2024-07-18") == MINI  # memoised now
    negotiated = Price(0.10, 0.40)
    prices.extend({("openai", "gpt-4o-mini"): negotiated})  # configuration after plugins
    assert prices.lookup("openai", "gpt-4o-mini-2024-07-18") == negotiated
    assert prices.lookup("openai", "gpt-4o") == FOUR_O
    assert len(prices) == 2


def test_prices_are_per_connector_type() -> None:
    assert table().lookup("azure", "gpt-4o") is None
    assert table().cost("azure", "gpt-4o", 10, 10) is None
    assert PriceTable().cost("openai", "gpt-4o", 0, 0) is None


def test_cost_charges_cached_input_at_its_own_rate_or_full_rate_when_unpriced() -> None:
    prices = table()
    # 1M input of which 400k cached, 100k output.
    assert prices.cost("openai", "gpt-4o-mini", 1_000_000, 100_000, 400_000) == pytest.approx(
        0.6 * 0.15 + 0.4 * 0.075 + 0.1 * 0.60
    )
    assert prices.cost("openai", "gpt-4o", 1_000_000, 100_000, 400_000) == pytest.approx(
        2.50 + 1.00
    )
    assert prices.cost("openai", "gpt-4o", 0, 0) == 0.0


@settings(max_examples=200, deadline=None)
@given(
    input_tokens=st.integers(0, 10_000_000),
    output_tokens=st.integers(0, 1_000_000),
    cached=st.integers(0, 20_000_000),
    extra=st.integers(0, 1_000_000),
)
def test_cost_is_nonnegative_and_monotone_in_tokens_and_cached_never_exceeds_input(
    input_tokens: int, output_tokens: int, cached: int, extra: int
) -> None:
    """cost >= 0; more input or output never costs less; cached tokens beyond the input
    are capped at the input (cached input is a share of it)."""
    prices = table()
    cost = prices.cost("openai", "gpt-4o-mini", input_tokens, output_tokens, cached)
    assert cost is not None and cost >= 0.0
    more_in = prices.cost("openai", "gpt-4o-mini", input_tokens + extra, output_tokens, cached)
    more_out = prices.cost("openai", "gpt-4o-mini", input_tokens, output_tokens + extra, cached)
    assert more_in is not None and more_in >= cost - 1e-12
    assert more_out is not None and more_out >= cost - 1e-12
    capped = prices.cost(
        "openai", "gpt-4o-mini", input_tokens, output_tokens, min(cached, input_tokens)
    )
    assert capped == cost


def test_negative_tokens_are_a_programming_error() -> None:
    with pytest.raises(ValueError, match="token"):
        table().cost("openai", "gpt-4o", -1, 0)


@pytest.mark.parametrize("bad", [-0.01, math.nan, math.inf])
def test_a_price_must_be_finite_and_not_negative(bad: float) -> None:
    with pytest.raises(ValueError, match="per_million"):
        Price(bad, 1.0)
    with pytest.raises(ValueError, match="per_million"):
        Price(1.0, 1.0, cached_input_per_million=bad)


def test_integer_prices_from_configuration_become_floats() -> None:
    price = Price(3, 15)
    assert price == Price(3.0, 15.0)
    assert isinstance(price.input_per_million, float)
