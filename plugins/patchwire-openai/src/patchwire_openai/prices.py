"""OpenAI's list prices (standard tier, US dollars per million tokens) and the rules that
change them. A configuration's ``[prices]`` table overrides any entry (negotiated prices,
new models, price changes since); a model missing here has an unknown cost, never zero.

Sources, and when they were read:

* Token rates (input, output, cached input): openai.com/api/pricing, August 2025.
* Batch API: 50% off token charges (platform.openai.com/docs/guides/batch, August 2025).
* Flex processing: billed at Batch API rates, for the models that offer it
  (platform.openai.com/docs/guides/flex-processing). Not confirmed against the live page:
  the rule ("priced at Batch API rates") is in a stored copy of that guide
  (developers.openai.com, searched 2026-12-06), which lists the supported models only on
  the pricing page; which models offer flex (``flex=True`` below) was written from memory
  or a stored copy, and only o3 and o4-mini at half price are confirmed, by stored
  third-party reports of the April 2025 launch.
* Priority processing: per-model rates on openai.com/api-priority-processing, read
  2026-12-06 from stored copies, not the live page; each is a constant multiple of the
  standard rates, kept here as that multiple, and every multiple below matches the stored
  copies' figures. A model without a rate here has an unknown priority cost: o3 and
  o4-mini among them, although one stored copy lists $3.50 / $0.875 / $14.00 and
  $2.00 / $0.50 / $8.00 for them (left out until confirmed on the live page).
* Reasoning tokens are billed as output tokens (they are part of ``completion_tokens``).
* Not modelled: web-search tool calls (Chat Completions usage does not count them) and
  audio/image token rates.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from patchwire.prices import Price

__all__ = ["PRICES", "PRICES_AS_OF"]

PRICES_AS_OF: Final = "2025-08"
_SOURCE: Final = "openai.com/api/pricing"
_BATCH: Final = 0.5


def _price(
    input_: float,
    output: float,
    cached: float | None = None,
    *,
    priority: float | None = None,
    flex: bool = False,
) -> Price:
    tiers: dict[str, float | None] = {"batch": _BATCH, "priority": priority}
    tiers["flex"] = _BATCH if flex else None
    return Price(input_, output, cached, service_tiers=tiers, source=_SOURCE, as_of=PRICES_AS_OF)


PRICES: Final[Mapping[str, Price]] = {
    # model: input, output, cached input; priority as a multiple of these
    "gpt-5": _price(1.25, 10.00, 0.125, priority=2.0, flex=True),  # 2.50 / 20.00 / 0.25
    "gpt-5-mini": _price(0.25, 2.00, 0.025, priority=1.8, flex=True),  # 0.45 / 3.60 / 0.045
    "gpt-5-nano": _price(0.05, 0.40, 0.005, flex=True),
    "gpt-4.1": _price(2.00, 8.00, 0.50, priority=1.75),  # 3.50 / 14.00 / 0.875
    "gpt-4.1-mini": _price(0.40, 1.60, 0.10, priority=1.75),  # 0.70 / 2.80 / 0.175
    "gpt-4.1-nano": _price(0.10, 0.40, 0.025, priority=2.0),  # 0.20 / 0.80 / 0.05
    "gpt-4o": _price(2.50, 10.00, 1.25, priority=1.7),  # 4.25 / 17.00 / 2.125
    "gpt-4o-mini": _price(0.15, 0.60, 0.075, priority=5 / 3),  # 0.25 / 1.00 / 0.125
    "o3": _price(2.00, 8.00, 0.50, flex=True),
    "o3-mini": _price(1.10, 4.40, 0.55),
    "o4-mini": _price(1.10, 4.40, 0.275, flex=True),
    "o1": _price(15.00, 60.00, 7.50),
    "gpt-4-turbo": _price(10.00, 30.00),
    "gpt-3.5-turbo": _price(0.50, 1.50),
    "text-embedding-3-small": _price(0.02, 0.0),
    "text-embedding-3-large": _price(0.13, 0.0),
    "text-embedding-ada-002": _price(0.10, 0.0),
}
