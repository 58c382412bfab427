"""OpenAI's list prices (standard tier, US dollars per million tokens), as of August 2025.

A configuration's ``[prices]`` table overrides any of them (negotiated prices, new
models, price changes since); a model missing here has an unknown cost, never zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from patchwire.prices import Price

__all__ = ["PRICES", "PRICES_AS_OF"]

PRICES_AS_OF: Final = "2025-08"

PRICES: Final[Mapping[str, Price]] = {
    # model: Price(input, output, cached input)
    "gpt-5": Price(1.25, 10.00, 0.125),
    "gpt-5-mini": Price(0.25, 2.00, 0.025),
    "gpt-5-nano": Price(0.05, 0.40, 0.005),
    "gpt-4.1": Price(2.00, 8.00, 0.50),
    "gpt-4.1-mini": Price(0.40, 1.60, 0.10),
    "gpt-4.1-nano": Price(0.10, 0.40, 0.025),
    "gpt-4o": Price(2.50, 10.00, 1.25),
    "gpt-4o-mini": Price(0.15, 0.60, 0.075),
    "o3": Price(2.00, 8.00, 0.50),
    "o3-mini": Price(1.10, 4.40, 0.55),
    "o4-mini": Price(1.10, 4.40, 0.275),
    "o1": Price(15.00, 60.00, 7.50),
    "gpt-4-turbo": Price(10.00, 30.00),
    "gpt-3.5-turbo": Price(0.50, 1.50),
    "text-embedding-3-small": Price(0.02, 0.0),
    "text-embedding-3-large": Price(0.13, 0.0),
    "text-embedding-ada-002": Price(0.10, 0.0),
}
