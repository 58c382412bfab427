"""What a call costs: per-model token prices that plugins and configuration extend.

Prices are in currency units (US dollars for the first-party plugins) per million tokens.
A model the table does not know has an unknown cost (``None``), never a cost of zero, so
a missing price shows up in the metrics instead of silently lowering the bill.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

import attrs

__all__ = ["Price", "PriceTable"]

# A provider's dated or versioned snapshot of a model keeps the model's price:
# gpt-4o-mini-2024-07-18, claude-sonnet-4-5-20250929, claude-3-opus@20240229,
# gemini-1.5-pro-002, gpt-4-0613, claude-3-5-haiku-latest. Anything else after the
# prefix names a different model (gpt-4o-mini is not gpt-4o), whose price is unknown.
_SNAPSHOT_SUFFIX = re.compile(r"[-@](?:latest|\d{3,}(?:-\d{2}-\d{2})?)")

# Lookups are memoised because cost is computed on every call; model ids come from callers,
# so the memo is capped rather than allowed to grow with every id ever asked about.
_RESOLVED_LIMIT = 4096


def _per_million(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (math.isfinite(value) and value >= 0.0):
        raise ValueError(f"{attribute.name} must be a finite number >= 0, got {value!r}")


def _optional_float(value: float | None) -> float | None:
    return None if value is None else float(value)


@attrs.frozen(slots=True)
class Price:
    """Price per million tokens; ``cached_input_per_million`` None means cached input costs full price."""

    input_per_million: float = attrs.field(converter=float, validator=_per_million)
    output_per_million: float = attrs.field(converter=float, validator=_per_million)
    cached_input_per_million: float | None = attrs.field(
        default=None,
        converter=_optional_float,
        validator=attrs.validators.optional(_per_million),
    )


class PriceTable:
    """Prices keyed by ``(connector_type, model)``; later entries override earlier ones.

    Plugins extend the table first and configuration last, so an operator's negotiated
    price wins over a plugin's list price.
    """

    __slots__ = ("_entries", "_resolved")

    def __init__(self, entries: Mapping[tuple[str, str], Price] | None = None) -> None:
        self._entries: dict[str, dict[str, Price]] = {}
        self._resolved: dict[tuple[str, str], Price | None] = {}
        if entries:
            self.extend(entries)

    def extend(self, entries: Mapping[tuple[str, str], Price]) -> None:
        for (connector_type, model), price in entries.items():
            self._entries.setdefault(connector_type, {})[model] = price
        self._resolved.clear()

    def lookup(self, connector_type: str, model: str) -> Price | None:
        """The price of ``model``, or of the longest known model it is a dated snapshot of."""
        key = (connector_type, model)
        try:
            return self._resolved[key]
        except KeyError:
            pass
        models = self._entries.get(connector_type, {})
        price = models.get(model)
        if price is None:
            best = ""
            for known, candidate in models.items():
                if (
                    len(known) > len(best)
                    and model.startswith(known)
                    and _SNAPSHOT_SUFFIX.fullmatch(model, len(known)) is not None
                ):
                    best, price = known, candidate
        if len(self._resolved) >= _RESOLVED_LIMIT:
            self._resolved.clear()
        self._resolved[key] = price
        return price

    def cost(
        self,
        connector_type: str,
        model: str,
        input_tokens: int,
        output_tokens: int,
        cached_input_tokens: int = 0,
    ) -> float | None:
        """Cost of one call; ``input_tokens`` includes the cached ones. None when the price is unknown."""
        if input_tokens < 0 or output_tokens < 0 or cached_input_tokens < 0:
            raise ValueError("token counts must be >= 0")
        price = self.lookup(connector_type, model)
        if price is None:
            return None
        cached = min(cached_input_tokens, input_tokens)
        cached_rate = (
            price.input_per_million
            if price.cached_input_per_million is None
            else price.cached_input_per_million
        )
        return (
            (input_tokens - cached) * price.input_per_million
            + cached * cached_rate
            + output_tokens * price.output_per_million
        ) / 1_000_000

    def __len__(self) -> int:
        return sum(len(models) for models in self._entries.values())

    def __repr__(self) -> str:
        return f"PriceTable({len(self)} prices)"
