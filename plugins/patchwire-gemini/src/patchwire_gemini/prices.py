"""Gemini Developer API list prices, US dollars per million tokens.

Standard (not batch) tier, text input, prompts up to 200k tokens; taken 2026-11-27.
Longer prompts on the Pro models, and audio input, cost more than these rates; an
operator's ``[prices]`` configuration overrides any of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from patchwire.prices import Price

__all__ = ["PRICES"]

PRICES: Final[Mapping[str, Price]] = {
    "gemini-3-pro-preview": Price(2.00, 12.00, 0.20),
    "gemini-3-flash-preview": Price(0.50, 3.00, 0.05),
    "gemini-2.5-pro": Price(1.25, 10.00, 0.125),
    "gemini-2.5-flash": Price(0.30, 2.50, 0.03),
    "gemini-2.5-flash-lite": Price(0.10, 0.40, 0.01),
    "gemini-2.0-flash": Price(0.10, 0.40, 0.025),
    "gemini-2.0-flash-lite": Price(0.075, 0.30),
    "gemini-embedding-001": Price(0.15, 0.0),
}
