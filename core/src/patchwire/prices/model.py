"""What one model's price says: token rates and the rules that change them.

Rates are in ``currency`` units per million tokens. A rate of ``None`` is a rule whose
figure is not known: a call that uses it has an unknown cost, never one priced as if the
rule did not exist (see :mod:`patchwire.prices.bill`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date
from typing import Any

import attrs

__all__ = ["STANDARD_TIERS", "ContextTier", "Price", "tier_name"]

#: service-tier names that mean "the list price" (OpenAI says "default", Anthropic "standard")
STANDARD_TIERS = frozenset({"standard", "default", "auto", "on_demand"})

# A tier name from the wire is a short word; anything else is not kept (it would be shown
# in metrics and CLI output).
_TIER_LENGTH = 32
_TIER_NAME = re.compile(rf"[a-z][a-z0-9_-]{{0,{_TIER_LENGTH - 1}}}")
# The regular expression's answer per short str seen, bounded: every reply carries a tier
# ("default" nearly always) and a match costs ~2k instructions, a look-up a fraction.
_TIER_ANSWERS: dict[str, bool] = {}
_TIER_ANSWERS_KEPT = 64


def tier_name(value: Any) -> str | None:
    """A provider's ``service_tier`` value as ``Usage.service_tier``: the name, or None."""
    if type(value) is str:
        try:
            known = _TIER_ANSWERS[value]
        except KeyError:
            known = _tier_answer(value)
        return value if known else None
    return value if isinstance(value, str) and _TIER_NAME.fullmatch(value) else None


def _tier_answer(value: str) -> bool:
    if len(value) > _TIER_LENGTH:  # never a name, and not kept: a reply could be long
        return False
    if len(_TIER_ANSWERS) >= _TIER_ANSWERS_KEPT:
        _TIER_ANSWERS.clear()
    known = _TIER_ANSWERS[value] = _TIER_NAME.fullmatch(value) is not None
    return known


def _rate(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (math.isfinite(value) and value >= 0.0):
        raise ValueError(f"{attribute.name} must be a finite number >= 0, got {value!r}")


def _optional_float(value: float | None) -> float | None:
    return None if value is None else float(value)


def _factors(
    value: Mapping[str, float | None] | tuple[tuple[str, float | None], ...],
) -> tuple[tuple[str, float | None], ...]:
    items = value.items() if isinstance(value, Mapping) else value
    out: list[tuple[str, float | None]] = []
    for name, factor in items:
        if factor is not None:
            factor = float(factor)
            if not (math.isfinite(factor) and factor >= 0.0):
                raise ValueError(f"{name!r} must be a finite number >= 0 or None, got {factor!r}")
        out.append((str(name), factor))
    return tuple(sorted(out))


def _tiers(value: tuple[ContextTier, ...] | list[ContextTier]) -> tuple[ContextTier, ...]:
    return tuple(sorted(value, key=lambda t: t.above))


_optional_rate = attrs.validators.optional(_rate)


@attrs.frozen(slots=True)
class ContextTier:
    """Rates for prompts longer than ``above`` tokens (the whole prompt, cached parts included).

    ``price`` None: the provider bills such prompts differently at a rate not known here,
    so their cost is unknown.
    """

    above: int
    price: Price | None


@attrs.frozen(slots=True)
class Price:
    """One model's price over a date range.

    * ``cached_input_per_million``: a prompt-cache read; None means cached input costs the
      input rate (the provider gives no discount).
    * ``cache_write_5m_per_million`` / ``cache_write_1h_per_million``: a prompt-cache write
      per time-to-live class; None means unknown (a call that writes has an unknown cost).
    * ``reasoning_output_per_million``: None means reasoning is billed as output (every
      first-party provider does so).
    * ``tiers``: context-length tiers, each a surcharge over this price's rates.
    * ``service_tiers``: a factor on every token charge per service tier ("batch": 0.5);
      a tier missing or None is unknown. The standard tier is always 1.
    * ``per_unit``: currency units per request or unit ("web_search": 0.01).
    * ``effective_from`` (inclusive) and ``effective_until`` (exclusive) bound the dates
      the price applies to; ``source`` names the page it was read from and ``as_of`` when.
    """

    input_per_million: float = attrs.field(converter=float, validator=_rate)
    output_per_million: float = attrs.field(converter=float, validator=_rate)
    cached_input_per_million: float | None = attrs.field(
        default=None, converter=_optional_float, validator=_optional_rate
    )
    cache_write_5m_per_million: float | None = attrs.field(
        default=None, converter=_optional_float, validator=_optional_rate, kw_only=True
    )
    cache_write_1h_per_million: float | None = attrs.field(
        default=None, converter=_optional_float, validator=_optional_rate, kw_only=True
    )
    reasoning_output_per_million: float | None = attrs.field(
        default=None, converter=_optional_float, validator=_optional_rate, kw_only=True
    )
    tiers: tuple[ContextTier, ...] = attrs.field(default=(), converter=_tiers, kw_only=True)
    service_tiers: tuple[tuple[str, float | None], ...] = attrs.field(
        default=(), converter=_factors, kw_only=True
    )
    per_unit: tuple[tuple[str, float | None], ...] = attrs.field(
        default=(), converter=_factors, kw_only=True
    )
    currency: str = attrs.field(default="USD", kw_only=True)
    effective_from: date | None = attrs.field(default=None, kw_only=True)
    effective_until: date | None = attrs.field(default=None, kw_only=True)
    source: str = attrs.field(default="", kw_only=True)
    as_of: str = attrs.field(default="", kw_only=True)

    def __attrs_post_init__(self) -> None:
        for tier in self.tiers:
            if tier.above < 0:
                raise ValueError(f"a context tier's 'above' must be >= 0, got {tier.above}")
            if tier.price is not None and not tier.price.is_surcharge_over(self):
                raise ValueError(
                    f"the context tier above {tier.above} tokens must cost at least the base"
                    " rates (every provider's long-prompt tier is a surcharge)"
                )
        if (
            self.effective_from is not None
            and self.effective_until is not None
            and self.effective_until <= self.effective_from
        ):
            raise ValueError("effective_until must be after effective_from")

    def service_factor(self, tier: str) -> float | None:
        if tier in STANDARD_TIERS:
            return 1.0
        return dict(self.service_tiers).get(tier)

    def unit_price(self, unit: str) -> float | None:
        return dict(self.per_unit).get(unit)

    def applies_on(self, day: date) -> bool:
        return (self.effective_from is None or self.effective_from <= day) and (
            self.effective_until is None or day < self.effective_until
        )

    def is_surcharge_over(self, base: Price) -> bool:
        """Every rate this price states is at least ``base``'s (an unknown rate is not compared)."""
        pairs = (
            (self.input_per_million, base.input_per_million),
            (self.output_per_million, base.output_per_million),
            (self.cached_rate, base.cached_rate),
            (self.cache_write_5m_per_million, base.cache_write_5m_per_million),
            (self.cache_write_1h_per_million, base.cache_write_1h_per_million),
            (self.reasoning_rate, base.reasoning_rate),
        )
        return all(
            mine >= theirs for mine, theirs in pairs if mine is not None and theirs is not None
        )

    @property
    def cached_rate(self) -> float:
        c = self.cached_input_per_million
        return self.input_per_million if c is None else c

    @property
    def reasoning_rate(self) -> float:
        r = self.reasoning_output_per_million
        return self.output_per_million if r is None else r
