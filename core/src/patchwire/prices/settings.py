"""A ``[prices."connector_type:model"]`` configuration entry read into prices.

An entry is a table, or an array of tables for successive date ranges::

    [prices."anthropic:claude-sonnet-4-5"]
    input = 2.4                 # per million tokens
    output = 12.0
    cached_input = 0.24         # a cache read; omitted: the input rate
    cache_write_5m = 3.0        # omitted: a call that writes the cache has an unknown cost
    cache_write_1h = 4.8
    reasoning_output = 12.0     # omitted: the output rate
    currency = "USD"
    from = 2026-01-01           # inclusive; a TOML date or "YYYY-MM-DD"
    until = 2027-01-01          # exclusive
    service_tiers = { batch = 0.5, priority = 1.5 }   # factors on token charges
    per_unit = { web_search = 0.008 }                 # currency per unit
    tiers = [{ above = 200000, input = 4.8, output = 18.0 }]  # no rates: unknown above

The entry replaces the plugin's for that model. Errors name the key and say how to fix it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from patchwire.config_values import Where, check_keys, read, shown
from patchwire.prices.model import ContextTier, Price

__all__ = ["MAX_PRICE", "prices_from_config"]

MAX_PRICE = 1e6  # per million tokens, or per unit
_RATES = ("input", "output", "cached_input", "cache_write_5m", "cache_write_1h", "reasoning_output")
_KEYS = (*_RATES, "currency", "from", "until", "service_tiers", "per_unit", "tiers")
_CURRENCY = re.compile(r"[A-Z]{3}")
_NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")


def _rate(entry: Mapping[str, Any], key: str, where: Where) -> float | None:
    value: float | None = read(entry, key, (int, float), None, where, minimum=0, maximum=MAX_PRICE)
    return value


def _rates(entry: Mapping[str, Any], where: Where, **extra: Any) -> Price:
    for key in ("input", "output"):
        if key not in entry:
            raise where.error(key, "missing; give the price per million tokens")
    try:
        return Price(
            _rate(entry, "input", where) or 0.0,
            _rate(entry, "output", where) or 0.0,
            _rate(entry, "cached_input", where),
            cache_write_5m_per_million=_rate(entry, "cache_write_5m", where),
            cache_write_1h_per_million=_rate(entry, "cache_write_1h", where),
            reasoning_output_per_million=_rate(entry, "reasoning_output", where),
            **extra,
        )
    except ValueError as exc:
        raise where.error(None, str(exc)) from None


def _date(entry: Mapping[str, Any], key: str, where: Where) -> date | None:
    value = entry.get(key)
    if value is None:
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise where.error(key, f"expected a date (2026-01-01), got {shown(value)}")


def _factors(entry: Mapping[str, Any], key: str, where: Where) -> dict[str, float]:
    table = entry.get(key, {})
    if not isinstance(table, Mapping):
        raise where.error(key, f"expected a table of name = number, got {shown(table)}")
    w = where.child(key)
    out: dict[str, float] = {}
    for name in table:
        if not _NAME.fullmatch(name):
            raise w.error(name, "names are lower-case words (batch, flex, priority, web_search)")
        out[name] = read(table, name, (int, float), 0.0, w, minimum=0, maximum=MAX_PRICE)
    return out


def _tier(raw: Any, where: Where) -> ContextTier:
    if not isinstance(raw, Mapping):
        raise where.error(None, "expected a table with 'above' and the rates above it")
    check_keys(raw, ["above", *_RATES], where)
    if "above" not in raw:
        raise where.error("above", "missing; give the prompt size in tokens the tier starts after")
    above: int = read(raw, "above", (int,), 0, where, minimum=0)
    if not any(key in raw for key in _RATES):
        return ContextTier(above, None)  # billed differently at a rate not known
    return ContextTier(above, _rates(raw, where))


def _one(entry: Any, where: Where) -> Price:
    if not isinstance(entry, Mapping):
        raise where.error(
            None, "expected a table with 'input' and 'output' (price per million tokens)"
        )
    check_keys(entry, _KEYS, where)
    currency = read(entry, "currency", (str,), "USD", where)
    if not _CURRENCY.fullmatch(currency):
        raise where.error("currency", "expected a three-letter ISO 4217 code such as USD")
    raw_tiers = entry.get("tiers", [])
    if not isinstance(raw_tiers, list):
        raise where.error("tiers", "expected an array of tables: [{ above = 200000, input = ... }]")
    tiers = tuple(_tier(t, where.child(f"tiers[{i}]")) for i, t in enumerate(raw_tiers))
    return _rates(
        entry,
        where,
        tiers=tiers,
        service_tiers=_factors(entry, "service_tiers", where),
        per_unit=_factors(entry, "per_unit", where),
        currency=currency,
        effective_from=_date(entry, "from", where),
        effective_until=_date(entry, "until", where),
        source="configuration",
    )


def prices_from_config(entry: Any, where: Where) -> Price | tuple[Price, ...]:
    """One model's configured price, or its prices for successive date ranges."""
    if isinstance(entry, list):
        if not entry:
            raise where.error(None, "an empty array; give at least one price table")
        prices = tuple(_one(item, where.child(f"[{i}]")) for i, item in enumerate(entry))
        for i, price in enumerate(prices):
            for other in prices[i + 1 :]:
                if _overlap(price, other):
                    raise where.error(
                        None, "two prices cover the same dates; give each its from/until"
                    )
        return prices
    return _one(entry, where)


def _overlap(a: Price, b: Price) -> bool:
    return (
        b.effective_until is None
        or a.effective_from is None
        or a.effective_from < b.effective_until
    ) and (
        a.effective_until is None
        or b.effective_from is None
        or b.effective_from < a.effective_until
    )
