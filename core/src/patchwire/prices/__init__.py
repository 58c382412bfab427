"""What a call costs, as the provider bills it: prices that plugins and configuration extend.

Prices are in currency units (US dollars for the first-party plugins) per million tokens,
with the rules providers bill by: prompt-cache reads and writes (per time-to-live class),
reasoning output, context-length tiers, service tiers (batch, flex, priority), per-unit
charges (web searches) and date ranges. A model the table does not know, or a rule a call
used whose figure is unknown, gives an unknown cost (``None``), never a low one, so a
missing price shows up in the metrics instead of silently lowering the bill.
"""

from __future__ import annotations

from patchwire.prices.bill import Bill, Cost, bill
from patchwire.prices.model import STANDARD_TIERS, ContextTier, Price, tier_name
from patchwire.prices.table import PriceEntry, PriceTable

__all__ = [
    "STANDARD_TIERS",
    "Bill",
    "ContextTier",
    "Cost",
    "Price",
    "PriceEntry",
    "PriceTable",
    "bill",
    "tier_name",
]
