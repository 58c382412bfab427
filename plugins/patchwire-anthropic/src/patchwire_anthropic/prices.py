"""List prices in US dollars per million tokens (input, output, cache read), from
Anthropic's pricing page as of 2026-10-24; configuration overrides them
(``[prices."anthropic:MODEL"]``).

A price entry has no rate for cache writes, so they are charged at the input rate here,
below Anthropic's 1.25x (5 minute) or 2x (1 hour). Claude Haiku 5.5 is priced by prompt
length; the entry is its rate for prompts up to 100,000 tokens.
"""

from __future__ import annotations

from typing import Final

from patchwire.prices import Price

PRICES: Final[dict[str, Price]] = {
    "claude-fable-5-1": Price(10.0, 50.0, 0.25),
    "claude-mythos-5-1": Price(10.0, 50.0, 0.25),
    "claude-fable-5": Price(10.0, 50.0, 1.0),
    "claude-mythos-5": Price(10.0, 50.0, 1.0),
    "claude-opus-5-5": Price(4.0, 20.0, 0.20),
    "claude-opus-5": Price(5.0, 25.0, 0.50),
    "claude-opus-4-8": Price(5.0, 25.0, 0.50),
    "claude-opus-4-7": Price(5.0, 25.0, 0.50),
    "claude-opus-4-6": Price(5.0, 25.0, 0.50),
    "claude-opus-4-5": Price(5.0, 25.0, 0.50),
    "claude-opus-4-1": Price(15.0, 75.0, 1.50),
    "claude-opus-4-0": Price(15.0, 75.0, 1.50),
    "claude-opus-4": Price(15.0, 75.0, 1.50),
    "claude-sonnet-5-5": Price(2.0, 10.0, 0.10),
    "claude-sonnet-5": Price(2.0, 10.0, 0.20),
    "claude-sonnet-4-6": Price(3.0, 15.0, 0.30),
    "claude-sonnet-4-5": Price(3.0, 15.0, 0.30),
    "claude-sonnet-4-0": Price(3.0, 15.0, 0.30),
    "claude-sonnet-4": Price(3.0, 15.0, 0.30),
    "claude-haiku-5-5": Price(0.10, 0.50, 0.01),
    "claude-haiku-4-5": Price(1.0, 5.0, 0.10),
}
