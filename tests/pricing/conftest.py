"""The first-party price tables, as a hub builds them (plugins first, then configuration)."""

from __future__ import annotations

import pytest
from patchwire.prices import PriceTable
from patchwire_anthropic.prices import PRICES as ANTHROPIC
from patchwire_gemini.prices import PRICES as GEMINI
from patchwire_openai.prices import PRICES as OPENAI


def first_party() -> PriceTable:
    table = PriceTable()
    for ctype, prices in (("openai", OPENAI), ("anthropic", ANTHROPIC), ("gemini", GEMINI)):
        table.extend({(ctype, model): price for model, price in prices.items()}, f"plugin {ctype}")
    return table


@pytest.fixture
def prices() -> PriceTable:
    return first_party()
