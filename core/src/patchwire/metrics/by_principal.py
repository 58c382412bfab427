"""Cost by principal and by declared tag value, from the same events the connector rows count.

The pipeline puts the principal on a call's end events (``call_succeeded``,
``call_failed``): ``data["principal"]``, its id, and ``data["tags"]``, only the tags
``[principals] tags`` declares (``PrincipalGate.labels``): the same principal the ledger
(``hub.usage(principal=...)``) is settled for. A call is counted once under its principal
(or under ``unattributed``) and once under each of its declared tags' values, with the
connector rows' rules: a reply served from patchwire's cache bills nothing, and an unknown
cost is counted as unknown, never as zero.

Bounded: at most ``max_principals`` principal ids and ``max_tag_values`` values per tag
are kept (:mod:`patchwire.metrics.cap`), later ones fold into ``"(other)"``, and only the
first 32 tag names are tallied (configuration declares a handful).
Calls made for no principal cost nothing here: ``unattributed`` is what the connector rows
hold beyond the principals' shares, worked out when a snapshot is taken. Invariant
(``tests/observability/test_principal_cost.py``): the known cost of ``by_principal`` plus
``unattributed`` equals the known cost of every connector row, and no more than
``max_principals + 1`` principal keys ever exist.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Protocol

import attrs

from patchwire.events import Event
from patchwire.metrics.cap import SeriesCap, TagCaps
from patchwire.metrics.snapshot import CostShare, PrincipalMetrics

__all__ = ["DEFAULT_MAX_PRINCIPALS", "DEFAULT_MAX_TAG_VALUES", "PrincipalTallies", "add_bill"]

DEFAULT_MAX_PRINCIPALS = 1000
DEFAULT_MAX_TAG_VALUES = 100


class Billed(Protocol):
    input_tokens: int
    output_tokens: int
    cost: float
    cost_unknown: int


def add_bill(
    tally: Billed,
    cached: bool,
    input_tokens: int | None,
    output_tokens: int | None,
    cost: float | None,
) -> None:
    """What a succeeded call billed, by the rule every cost count here shares (the
    connector rows' and the principals'): a reply from patchwire's cache bills nothing, and
    an unknown (or non-finite) cost is counted as unknown, never added as zero."""
    if cached:
        return
    if input_tokens:
        tally.input_tokens += input_tokens
    if output_tokens:
        tally.output_tokens += output_tokens
    if cost is not None and math.isfinite(cost):
        tally.cost += cost
    else:
        tally.cost_unknown += 1


class _Share:
    __slots__ = (
        "cache_savings",
        "calls",
        "cost",
        "cost_unknown",
        "failed",
        "input_tokens",
        "output_tokens",
    )

    def __init__(self) -> None:
        self.calls = self.failed = self.input_tokens = self.output_tokens = 0
        self.cost_unknown = 0
        self.cost = self.cache_savings = 0.0

    def succeeded(
        self,
        savings: float,
        cached: bool,
        input_tokens: int | None,
        output_tokens: int | None,
        cost: float | None,
    ) -> None:
        self.calls += 1
        self.cache_savings += savings
        add_bill(self, cached, input_tokens, output_tokens, cost)

    def failed_call(self) -> None:
        self.calls += 1
        self.failed += 1

    def value(self) -> CostShare:
        return CostShare(**{name: getattr(self, name) for name in self.__slots__})


class PrincipalTallies:
    """Running totals per principal and per declared tag value; ``on_end(event)`` per call end."""

    def __init__(
        self,
        max_principals: int = DEFAULT_MAX_PRINCIPALS,
        max_tag_values: int = DEFAULT_MAX_TAG_VALUES,
    ) -> None:
        self.max_principals = max_principals
        self.max_tag_values = max_tag_values
        self.reset()

    def reset(self) -> None:
        self._principals: dict[str, _Share] = {}
        self._tags: dict[str, dict[str, _Share]] = {}
        self._principal_cap = SeriesCap(self.max_principals)
        self._tag_caps = TagCaps(self.max_tag_values)

    def on_end(self, event: Event, who: str, succeeded: bool) -> None:
        """A call made for principal ``who`` ended (the aggregator calls this only for calls
        made for a principal: the rest cost nothing here)."""
        data = event.data
        if succeeded:
            self.on_succeeded(
                who,
                data.get("tags"),
                data.get("cache_savings"),
                event.cached,
                event.input_tokens,
                event.output_tokens,
                event.cost,
            )
        else:
            for share in self._shares(who, data.get("tags")):
                share.failed_call()

    def on_succeeded(
        self,
        who: str,
        tags: object,
        savings: object,
        cached: bool,
        input_tokens: int | None,
        output_tokens: int | None,
        cost: float | None,
    ) -> None:
        """A call made for ``who`` succeeded; ``tags`` and ``savings`` as its event's data
        holds them (None when absent), checked here."""
        saved = savings if isinstance(savings, float) and math.isfinite(savings) else 0.0
        for share in self._shares(who, tags):
            share.succeeded(saved, cached, input_tokens, output_tokens, cost)

    def _shares(self, who: str, tags: object) -> list[_Share]:
        key = self._principal_cap.key(who)
        share = self._principals.get(key)
        if share is None:
            share = self._principals[key] = _Share()
        shares = [share]
        if isinstance(tags, Mapping):
            shares += self._tag_shares(tags)
        return shares

    def _tag_shares(self, tags: Mapping[object, object]) -> list[_Share]:
        out = []
        for tag, value in tags.items():
            if not (isinstance(tag, str) and isinstance(value, str)):
                continue
            key = self._tag_caps.key(tag, value)
            if key is None:
                continue
            values = self._tags.setdefault(tag, {})
            share = values.get(key)
            if share is None:
                share = values[key] = _Share()
            out.append(share)
        return out

    def snapshot(self, everything: CostShare) -> PrincipalMetrics:
        """``everything``: the connector rows added up; what no principal's share holds of
        it is ``unattributed`` (the exact difference for counts; for the two sums in
        currency, exact up to floating-point rounding, with a negative residue shown as 0)."""
        by_principal = {k: s.value() for k, s in sorted(self._principals.items())}
        unattributed = everything - sum(by_principal.values(), CostShare())
        return PrincipalMetrics(
            by_principal=by_principal,
            by_tag={
                tag: {k: s.value() for k, s in sorted(values.items())}
                for tag, values in sorted(self._tags.items())
            },
            unattributed=attrs.evolve(unattributed, cost=max(0.0, unattributed.cost)),
            max_principals=self.max_principals,
            max_tag_values=self.max_tag_values,
            folded_principals=self._principal_cap.folded,
            folded_tag_values=self._tag_caps.folded,
            folded_exact=self._principal_cap.folded_exact and self._tag_caps.folded_exact,
        )
