"""Gemini Developer API list prices, US dollars per million tokens, and the rules that
change them; an operator's ``[prices]`` configuration overrides any of them.

Sources, and when they were read:

* Standard-tier text rates for prompts up to 200k tokens: ai.google.dev/gemini-api/docs/pricing,
  taken 2026-11-27.
* Prompts over 200k tokens on the Pro models (the whole request at the higher rates:
  Gemini 2.5 Pro $2.50 input / $15.00 output / $0.25 cached; Gemini 3 Pro Preview
  $4.00 / $18.00 / $0.40): the same page, read 2026-12-06 from stored copies, not
  confirmed against the live page. Stored third-party pages (deploybase.ai, searched
  2026-12-06) state Gemini 2.5 Pro's $2.50 / $15.00; the cached rates above 200k
  ($0.25, $0.40) and Gemini 3 Pro Preview's long-prompt rates were found in no second
  source.
* Batch Mode costs 50% of the standard rates (ai.google.dev/gemini-api/docs/batch-mode).
* Thinking tokens are billed as output ("output price, including thinking tokens").
* Unknown, so a call that uses them has an unknown cost: the Flex and Priority tiers.
  Not modelled: audio input (priced above text input), grounding with Google Search
  (billed per grounded prompt; ``usageMetadata`` does not count it) and context-cache
  storage (billed per hour, not per call).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from patchwire.prices import ContextTier, Price

__all__ = ["PRICES"]

_SOURCE: Final = "ai.google.dev/gemini-api/docs/pricing"
_AS_OF: Final = "2026-11-27"
_TIERS: Final = {"batch": 0.5, "flex": None, "priority": None}


def _price(
    input_: float, output: float, cached: float | None = None, long: Price | None = None
) -> Price:
    return Price(
        input_,
        output,
        cached,
        tiers=() if long is None else (ContextTier(200_000, long),),
        service_tiers=_TIERS,
        source=_SOURCE,
        as_of=_AS_OF,
    )


PRICES: Final[Mapping[str, Price]] = {
    "gemini-3-pro-preview": _price(2.00, 12.00, 0.20, Price(4.00, 18.00, 0.40)),
    "gemini-3-flash-preview": _price(0.50, 3.00, 0.05),
    "gemini-2.5-pro": _price(1.25, 10.00, 0.125, Price(2.50, 15.00, 0.25)),
    "gemini-2.5-flash": _price(0.30, 2.50, 0.03),
    "gemini-2.5-flash-lite": _price(0.10, 0.40, 0.01),
    "gemini-2.0-flash": _price(0.10, 0.40, 0.025),
    "gemini-2.0-flash-lite": _price(0.075, 0.30),
    "gemini-embedding-001": _price(0.15, 0.0),
}
