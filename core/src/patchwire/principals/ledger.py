"""What each principal, and each declared tag value, has used: ``hub.usage(principal=...)``.

Rows are keyed by principal id and by ``(tag, value)`` for the tags ``[principals] tags``
declares; an undeclared tag is never a key, so the label set stays what configuration
said. The ledger is this process's view; shared budgets live in the counter store.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

__all__ = ["Ledger", "PrincipalUsage"]


@attrs.frozen
class PrincipalUsage:
    calls: int = 0
    failures: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    #: calls whose cost is unknown (no price): not counted in ``cost``
    unknown_cost: int = 0
    #: refused by a budget before reaching the provider
    over_budget: int = 0

    @property
    def total_cost(self) -> float | None:
        """The whole cost, or None while any call's cost is unknown: ``cost`` is then only
        the known part, never a total that counted the unknown as zero."""
        return None if self.unknown_cost else self.cost


class Ledger:
    def __init__(self, tags: Iterable[str]) -> None:
        self.tags = tuple(tags)
        self._rows: dict[str | tuple[str, str], PrincipalUsage] = {}

    def keys_for(
        self, principal_id: str, tags: dict[str, str] | object
    ) -> list[str | tuple[str, str]]:
        keys: list[str | tuple[str, str]] = [principal_id]
        if isinstance(tags, dict):
            keys += [(t, tags[t]) for t in self.tags if t in tags]
        return keys

    def record(
        self,
        keys: Iterable[str | tuple[str, str]],
        *,
        ok: bool,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        cost: float | None = None,
        over_budget: bool = False,
    ) -> None:
        for key in keys:
            row = self._rows.get(key, PrincipalUsage())
            self._rows[key] = PrincipalUsage(
                calls=row.calls + 1,
                failures=row.failures + (0 if ok else 1),
                input_tokens=row.input_tokens + (input_tokens or 0),
                output_tokens=row.output_tokens + (output_tokens or 0),
                cost=row.cost + (cost or 0.0),
                unknown_cost=row.unknown_cost + (1 if ok and cost is None else 0),
                over_budget=row.over_budget + (1 if over_budget else 0),
            )

    def usage(self, key: str | tuple[str, str]) -> PrincipalUsage:
        return self._rows.get(key, PrincipalUsage())
