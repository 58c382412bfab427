"""Anthropic list prices in US dollars per million tokens; configuration overrides them
(``[prices."anthropic:MODEL"]``).

Sources, and when they were read:

* Token rates (input, output, cache read): Anthropic's pricing page
  (platform.claude.com/docs/en/about-claude/pricing), read 2026-10-24.
* Rules, from the same page (the copy read 2026-12-06): a 5-minute cache write costs
  1.25x the input rate and a 1-hour write 2x; the Batch API is a 50% discount on token
  charges, and the caching multipliers stack with it and with long-context rates; web
  search costs $10 per 1,000 searches on top of tokens; Claude Sonnet 4 and 4.5 bill a
  whole request whose input exceeds 200k tokens at $6 input / $22.50 output.
* Sonnet 4 / 4.5 above 200k tokens (``_SONNET_4_LONG``): not confirmed against the live
  page. $6 / $22.50 were written from stored copies, and stored third-party pages
  (eonsr.com, apidog.com, searched 2026-12-06) state the same; the cache rates in that
  tier ($0.60 read, $7.50 / $12.00 writes) are not figures read anywhere but the
  multipliers above applied to $6, on those pages' word that caching stacks with
  long-context pricing.
* Unknown, so a call that uses them has an unknown cost: Priority Tier (priced by
  contract; configure ``service_tiers.priority``), Claude Haiku 5.5 above 100,000 prompt
  tokens (priced by prompt length; only the first tier's rate was read), and Sonnet 4.6 /
  Opus 4.6 above 200k tokens (sources disagree on whether a surcharge applies).
"""

from __future__ import annotations

from typing import Final

from patchwire.prices import ContextTier, Price

__all__ = ["PRICES"]

_SOURCE: Final = "platform.claude.com/docs/en/about-claude/pricing"
_AS_OF: Final = "2026-10-24"
_WEB_SEARCH: Final = 10.0 / 1000  # dollars per search
_BATCH: Final = 0.5


def _rates(input_: float, output: float, read: float) -> Price:
    return Price(
        input_,
        output,
        read,
        cache_write_5m_per_million=input_ * 1.25,
        cache_write_1h_per_million=input_ * 2.0,
    )


def _claude(
    input_: float, output: float, read: float, tiers: tuple[ContextTier, ...] = ()
) -> Price:
    return Price(
        input_,
        output,
        read,
        cache_write_5m_per_million=input_ * 1.25,
        cache_write_1h_per_million=input_ * 2.0,
        tiers=tiers,
        service_tiers={"batch": _BATCH, "priority": None},
        per_unit={"web_search": _WEB_SEARCH},
        source=_SOURCE,
        as_of=_AS_OF,
    )


# Sonnet 4 and 4.5 with the 1M-token context: the whole request at long-context rates.
_SONNET_4_LONG: Final = (ContextTier(200_000, _rates(6.0, 22.5, 0.60)),)
_UNKNOWN_ABOVE_200K: Final = (ContextTier(200_000, None),)

PRICES: Final[dict[str, Price]] = {
    "claude-fable-5-1": _claude(10.0, 50.0, 0.25),
    "claude-mythos-5-1": _claude(10.0, 50.0, 0.25),
    "claude-fable-5": _claude(10.0, 50.0, 1.0),
    "claude-mythos-5": _claude(10.0, 50.0, 1.0),
    "claude-opus-5-5": _claude(4.0, 20.0, 0.20),
    "claude-opus-5": _claude(5.0, 25.0, 0.50),
    "claude-opus-4-8": _claude(5.0, 25.0, 0.50),
    "claude-opus-4-7": _claude(5.0, 25.0, 0.50),
    "claude-opus-4-6": _claude(5.0, 25.0, 0.50, _UNKNOWN_ABOVE_200K),
    "claude-opus-4-5": _claude(5.0, 25.0, 0.50),
    "claude-opus-4-1": _claude(15.0, 75.0, 1.50),
    "claude-opus-4-0": _claude(15.0, 75.0, 1.50),
    "claude-opus-4": _claude(15.0, 75.0, 1.50),
    "claude-sonnet-5-5": _claude(2.0, 10.0, 0.10),
    "claude-sonnet-5": _claude(2.0, 10.0, 0.20),
    "claude-sonnet-4-6": _claude(3.0, 15.0, 0.30, _UNKNOWN_ABOVE_200K),
    "claude-sonnet-4-5": _claude(3.0, 15.0, 0.30, _SONNET_4_LONG),
    "claude-sonnet-4-0": _claude(3.0, 15.0, 0.30, _SONNET_4_LONG),
    "claude-sonnet-4": _claude(3.0, 15.0, 0.30, _SONNET_4_LONG),
    "claude-haiku-5-5": _claude(0.10, 0.50, 0.01, (ContextTier(100_000, None),)),
    "claude-haiku-4-5": _claude(1.0, 5.0, 0.10),
}
