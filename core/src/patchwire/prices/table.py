"""The price table in force: entries by ``(connector_type, model)``, each with its origin.

Plugins extend the table first and configuration last, so an operator's negotiated price
replaces a plugin's list price for that model (the whole entry: a negotiated input rate
says nothing about the plugin's cache-write rates, which are then unknown rather than
wrong). A model may have several entries for successive date ranges.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime

import attrs

from patchwire.prices.bill import Bill, bill
from patchwire.prices.model import Price
from patchwire.types import Usage

__all__ = ["PriceEntry", "PriceTable", "snapshot_of"]

# An unknown model's bill: the same for every call (a Bill is frozen).
_UNKNOWN = Bill(charges=(), missing=("price",))

# A provider's dated or versioned snapshot of a model keeps the model's price:
# gpt-4o-mini-2024-07-18, claude-sonnet-4-5-20250929, claude-3-opus@20240229,
# gemini-1.5-pro-002, gpt-4-0613, claude-3-5-haiku-latest. Anything else after the
# prefix names a different model (gpt-4o-mini is not gpt-4o), whose price is unknown.
_SNAPSHOT_SUFFIX = re.compile(r"[-@](?:latest|\d{3,}(?:-\d{2}-\d{2})?)")


def snapshot_of(model: str, known: Iterable[str]) -> str | None:
    """The longest of ``known`` that ``model`` is a dated or versioned snapshot of (also
    for other per-model tables: context windows, ``patchwire.transforms``)."""
    best: str | None = None
    for name in known:
        if (
            (best is None or len(name) > len(best))
            and model.startswith(name)
            and _SNAPSHOT_SUFFIX.fullmatch(model, len(name)) is not None
        ):
            best = name
    return best


# Lookups are memoised because cost is computed on every call; model ids come from callers,
# so the memo is capped rather than allowed to grow with every id ever asked about.
_RESOLVED_LIMIT = 4096

PriceSpec = Price | Sequence[Price]


@attrs.frozen(slots=True)
class PriceEntry:
    """One model's prices (one per date range) and where they came from."""

    connector_type: str
    model: str
    prices: tuple[Price, ...]
    origin: str

    def on(self, day: date) -> Price | None:
        for price in self.prices:
            if price.applies_on(day):
                return price
        return None


# The UTC day last read, with the span of time.time() it covers: every priced call asks
# for today's date, and a clock reading is a fraction of what building a datetime costs.
_day = (0.0, 0.0, date(1970, 1, 1))
_DAY = 86_400.0


def _today() -> tuple[float, float, date]:
    """Today's UTC date with the span of time.time() it covers: (start, end, date)."""
    global _day
    day = _day
    now = time.time()
    if day[0] <= now < day[1]:
        return day
    today = datetime.now(UTC).date()
    start = (today - date(1970, 1, 1)).days * _DAY
    day = _day = (start, start + _DAY, today)
    return day


class PriceTable:
    """Prices keyed by ``(connector_type, model)``; later entries replace earlier ones."""

    __slots__ = ("_current", "_entries", "_resolved")

    def __init__(
        self, entries: Mapping[tuple[str, str], PriceSpec] | None = None, origin: str = ""
    ) -> None:
        self._entries: dict[str, dict[str, PriceEntry]] = {}
        self._resolved: dict[tuple[str, str], PriceEntry | None] = {}
        # Today's price per model with the span of time.time() that day covers: every
        # call's bill asks, and the entry, the date and the entry's date ranges answer
        # the same all day (four calls, ~2.4k instructions).
        self._current: dict[tuple[str, str], tuple[float, float, Price | None]] = {}
        if entries:
            self.extend(entries, origin)

    def extend(self, entries: Mapping[tuple[str, str], PriceSpec], origin: str = "") -> None:
        """Add or replace entries; ``origin`` says where they came from ("plugin openai",
        "configuration"). A model's value is one price or several for successive dates."""
        for (connector_type, model), spec in entries.items():
            prices = (spec,) if isinstance(spec, Price) else tuple(spec)
            self._entries.setdefault(connector_type, {})[model] = PriceEntry(
                connector_type, model, prices, origin
            )
        self._resolved.clear()
        self._current.clear()

    def entry(self, connector_type: str, model: str) -> PriceEntry | None:
        """The entry of ``model``, or of the longest known model it is a dated snapshot of."""
        key = (connector_type, model)
        try:
            return self._resolved[key]
        except KeyError:
            pass
        models = self._entries.get(connector_type, {})
        found = models.get(model)
        if found is None:
            base = snapshot_of(model, models)
            found = None if base is None else models[base]
        if len(self._resolved) >= _RESOLVED_LIMIT:
            self._resolved.clear()
        self._resolved[key] = found
        return found

    def lookup(self, connector_type: str, model: str, on: date | None = None) -> Price | None:
        """The price of ``model`` on ``on`` (today, UTC, by default); None when unknown."""
        if on is not None:
            found = self.entry(connector_type, model)
            return None if found is None else found.on(on)
        key = (connector_type, model)
        try:
            start, end, price = self._current[key]
            if start <= time.time() < end:
                return price
        except KeyError:
            pass
        start, end, today = _today()
        found = self.entry(connector_type, model)
        price = None if found is None else found.on(today)
        if len(self._current) >= _RESOLVED_LIMIT:
            self._current.clear()
        self._current[key] = (start, end, price)
        return price

    def bill(self, connector_type: str, model: str, usage: Usage, on: date | None = None) -> Bill:
        """The bill of one call; an unknown model's bill misses the rule ``price``."""
        price = self.lookup(connector_type, model, on)
        if price is None:
            return _UNKNOWN
        return bill(price, usage)

    def cost(
        self,
        connector_type: str,
        model: str,
        input_tokens: int,
        output_tokens: int,
        cached_input_tokens: int = 0,
    ) -> float | None:
        """Cost of a plain call; ``input_tokens`` includes the cached ones. None when unknown."""
        if input_tokens < 0 or output_tokens < 0 or cached_input_tokens < 0:
            raise ValueError("token counts must be >= 0")
        usage = Usage(
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cached_input_tokens=cached_input_tokens,
        )
        return self.bill(connector_type, model, usage).total

    def __iter__(self) -> Iterator[PriceEntry]:
        for connector_type in sorted(self._entries):
            models = self._entries[connector_type]
            for model in sorted(models):
                yield models[model]

    def __len__(self) -> int:
        return sum(len(models) for models in self._entries.values())

    def __repr__(self) -> str:
        return f"PriceTable({len(self)} prices)"
