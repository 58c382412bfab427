"""Cost by declared tag value and, only when asked, by principal: ``snapshot.principals``.

Who a call was made for is the one high-cardinality dimension patchwire knows, so it is
exported in the form an operator bounded:

* by default, per value of the tags ``[principals] tags`` declares (``team``, ``plan``):
  ``patchwire_tag_cost_total{tag="team",value="search"}`` and its siblings. The operator
  chose the tag names, and the snapshot keeps at most ``[principals]
  metrics_max_tag_values`` values per tag (later ones are ``(other)``). ``sum()`` is
  meaningful within one ``tag``: every call made for a principal is counted once under
  each declared tag it carries.
* per principal only with ``[exporters.prometheus] principal_label = "hash"`` or
  ``"id"``: ``patchwire_principal_cost_total{principal="..."}``, at most ``[principals]
  metrics_max_principals`` series plus ``(other)``, and ``principal=""`` for the calls
  made for no principal, so ``sum()`` over it is the whole cost. A principal id is never a
  credential (credentials are references and are never exported) but is often personal (an
  e-mail, a user id): ``hash`` writes the first 16 hex digits of its SHA-256, a stable
  pseudonym to join with the application's own records, not an anonymisation (an id can be
  guessed and hashed); ``id`` writes it as given.

A value that is not a well-formed tag value or principal id (a snapshot read from
elsewhere) is exported as ``(other)``.
"""

from __future__ import annotations

from collections.abc import Iterable

from patchwire.metrics import CostShare, MetricsSnapshot
from patchwire.metrics.cap import OVERFLOW, PRINCIPAL_MODES, exported_principal
from patchwire.principals.principal import well_formed_tag
from prometheus_client.core import CounterMetricFamily, Metric

__all__ = ["PRINCIPAL_LABELS", "principal_families"]

PRINCIPAL_LABELS = PRINCIPAL_MODES
"""``[exporters.prometheus] principal_label``: no per-principal series (the default), a
hashed id, or the id as given."""


def _tag(text: str) -> str:
    return text if well_formed_tag(text) else OVERFLOW


class _Families:
    """One set of cost families under a label set (``tag``/``value`` or ``principal``)."""

    def __init__(self, scope: str, what: str, keys: list[str]) -> None:
        self.cost = CounterMetricFamily(
            f"patchwire_{scope}_cost",
            f"Cost of billed tokens {what}, in the price table's currency (US dollars for"
            " first-party prices); calls of unknown cost add nothing here.",
            labels=keys,
        )
        self.unknown = CounterMetricFamily(
            f"patchwire_{scope}_cost_unknown_calls",
            f"Succeeded calls whose cost is unknown (no price), {what}.",
            labels=keys,
        )
        self.savings = CounterMetricFamily(
            f"patchwire_{scope}_cache_savings",
            f"What caching saved {what}, in the price table's currency.",
            labels=keys,
        )
        self.tokens = CounterMetricFamily(
            f"patchwire_{scope}_tokens",
            f"Tokens billed by the provider {what}, by kind.",
            labels=[*keys, "kind"],
        )
        self.calls = CounterMetricFamily(
            f"patchwire_{scope}_calls",
            f"Logical calls that finished {what}, by outcome.",
            labels=[*keys, "outcome"],
        )

    def add(self, key: list[str], share: CostShare) -> None:
        self.cost.add_metric(key, share.cost)
        self.unknown.add_metric(key, share.cost_unknown)
        self.savings.add_metric(key, share.cache_savings)
        self.tokens.add_metric([*key, "input"], share.input_tokens)
        self.tokens.add_metric([*key, "output"], share.output_tokens)
        self.calls.add_metric([*key, "succeeded"], share.calls - share.failed)
        self.calls.add_metric([*key, "failed"], share.failed)

    def all(self) -> list[Metric]:
        return [self.cost, self.unknown, self.savings, self.tokens, self.calls]


def principal_families(snapshot: MetricsSnapshot, principal_label: str = "none") -> list[Metric]:
    """The tag families, and the principal families when ``principal_label`` is not
    ``none``; nothing for a snapshot without principals (a window, or an older JSON)."""
    principals = snapshot.principals
    if principals is None or not principals.used:
        return []
    tags = _Families("tag", "for principals carrying a declared tag value", ["tag", "value"])
    for tag, values in principals.by_tag.items():
        for value, share in _merged((_tag(v), s) for v, s in values.items()):
            tags.add([_tag(tag), value], share)
    out = tags.all()
    if principal_label != "none":
        who = _Families("principal", "per principal ('' for no principal)", ["principal"])
        shares = (
            (exported_principal(p, principal_label), s) for p, s in principals.by_principal.items()
        )
        for label, share in _merged(shares):
            who.add([label], share)
        who.add([""], principals.unattributed)
        out += who.all()
    return out


def _merged(pairs: Iterable[tuple[str, CostShare]]) -> list[tuple[str, CostShare]]:
    # Two keys may map to one label value ("(other)", or two ids whose hashes collide in 64
    # bits); their shares add up rather than repeat a series.
    out: dict[str, CostShare] = {}
    for label, share in pairs:
        seen = out.get(label)
        out[label] = share if seen is None else seen + share
    return sorted(out.items())
