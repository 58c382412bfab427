"""List prices in US dollars per million tokens, as published by Anthropic (taken 2026-11;
configuration overrides them: ``[prices."anthropic:MODEL"]``). Cache reads are priced
separately; cache writes are charged as input here."""

from __future__ import annotations

from typing import Final

from patchwire.prices import Price

PRICES: Final[dict[str, Price]] = {
    "claude-opus-4-5": Price(5.0, 25.0, 0.50),
    "claude-opus-4-1": Price(15.0, 75.0, 1.50),
    "claude-opus-4": Price(15.0, 75.0, 1.50),
    "claude-sonnet-4-5": Price(3.0, 15.0, 0.30),
    "claude-sonnet-4": Price(3.0, 15.0, 0.30),
    "claude-haiku-4-5": Price(1.0, 5.0, 0.10),
    "claude-3-5-haiku": Price(0.80, 4.0, 0.08),
}
