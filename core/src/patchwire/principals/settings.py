"""The ``[principals]`` table: declared tags, allowed credential sources, stores, budgets.

    [principals]
    tags = ["team", "plan"]          # the only tags that become metric and ledger labels
    credential_sources = ["env"]     # secret sources a principal's references may use
    token_store = "memory"           # or a [backends.NAME] whose type offers a token store
    token_key = "env:PW_TOKEN_KEY"   # AES-256 key (base64) for a shared token store
    backend = "memory"               # where budget counters live ([backends.NAME], e.g. redis)
    metrics_max_principals = 1000    # principal ids kept in hub.metrics(); later ones: "(other)"
    metrics_max_tag_values = 100     # values kept per declared tag; later ones: "(other)"

    [principals.budgets.free]
    tag = "plan=free"                # or principal = "alice"; neither: every principal
    shared = false                   # true: everyone matched draws on one budget
    requests_per_minute = 10         # requests|tokens|cost _per_ minute|hour|day|month
    cost_per_month = 5.0

Every key is checked at load and a mistake names the table and key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from patchwire.config_table import Table
from patchwire.config_values import Where

__all__ = ["MEASURES", "WINDOWS", "BudgetSpec", "PrincipalsConfig", "parse_principals"]

MEASURES = ("requests", "tokens", "cost")
#: fixed windows aligned to the epoch (UTC); "month" is the calendar month
WINDOWS = {"minute": 60.0, "hour": 3600.0, "day": 86400.0, "month": 0.0}
#: sources that read nothing but the process environment; anything else needs opting in
DEFAULT_SOURCES = frozenset({"env"})


@attrs.frozen
class BudgetLimit:
    measure: str  # requests, tokens or cost
    window: str  # minute, hour, day or month
    limit: float

    @property
    def key(self) -> str:
        return f"{self.measure}_per_{self.window}"


@attrs.frozen
class BudgetSpec:
    name: str
    principal: str | None = None
    tag: tuple[str, str] | None = None
    shared: bool = False
    limits: tuple[BudgetLimit, ...] = ()

    def matches(self, principal_id: str, tags: Mapping[str, str]) -> bool:
        if self.principal is not None and principal_id != self.principal:
            return False
        return self.tag is None or tags.get(self.tag[0]) == self.tag[1]

    def subject(self, principal_id: str) -> str:
        """Whose counters a call draws on: the group's when shared, else the principal's."""
        if self.shared:
            return f"tag:{self.tag[0]}={self.tag[1]}" if self.tag else "all"
        return f"principal:{principal_id}"


@attrs.frozen
class PrincipalsConfig:
    tags: tuple[str, ...] = ()
    credential_sources: frozenset[str] = DEFAULT_SOURCES
    token_store: str = "memory"
    token_key: str | None = None
    backend: str = "memory"
    budgets: tuple[BudgetSpec, ...] = ()
    #: the cost-by-principal series hub.metrics() keeps (patchwire.metrics.by_principal)
    metrics_max_principals: int = 1000
    metrics_max_tag_values: int = 100


def parse_principals(
    raw: Mapping[str, Any], where: Where, secret_schemes: Mapping[str, object]
) -> PrincipalsConfig:
    from patchwire.config_values import check_reference

    t = Table(raw, where)
    t.check_keys(
        [
            "tags",
            "credential_sources",
            "token_store",
            "token_key",
            "backend",
            "budgets",
            "metrics_max_principals",
            "metrics_max_tag_values",
        ]
    )
    tags = _names(t, "tags", ())
    sources = _names(t, "credential_sources", tuple(sorted(DEFAULT_SOURCES)))
    for source in sources:
        if source not in secret_schemes and source != "store":
            raise t.error(
                "credential_sources",
                f"'{source}' is not an installed secret source"
                f" (installed: {', '.join(sorted(secret_schemes))})",
            )
    token_key = t.string("token_key")
    if token_key is not None:
        check_reference(token_key, "token_key", where, secret_schemes)
    elif (t.string("token_store", "memory") or "memory") != "memory":
        raise t.error(
            "token_key",
            "a shared token store keeps users' tokens encrypted at rest: set token_key to a"
            ' reference to 32 random bytes in base64, e.g. "env:PATCHWIRE_TOKEN_KEY"',
        )
    budgets_raw = t.get("budgets", (dict,), {}, "a table of [principals.budgets.NAME] tables")
    budgets = tuple(
        _budget(name, entry, where.child("budgets").child(name))
        for name, entry in budgets_raw.items()
    )
    return PrincipalsConfig(
        tags=tags,
        credential_sources=frozenset(sources),
        token_store=t.string("token_store", "memory") or "memory",
        token_key=token_key,
        backend=t.string("backend", "memory") or "memory",
        budgets=budgets,
        metrics_max_principals=t.integer("metrics_max_principals", 1000, minimum=0),
        metrics_max_tag_values=t.integer("metrics_max_tag_values", 100, minimum=0),
    )


def _names(t: Table, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    value = t.get(key, (list,), list(default), "a list of names")
    if not all(isinstance(v, str) and v for v in value):
        raise t.error(key, "expected a list of non-empty strings")
    return tuple(value)


def _budget(name: str, raw: Any, where: Where) -> BudgetSpec:
    if not isinstance(raw, Mapping):
        raise where.error(None, "expected a table")
    t = Table(raw, where)
    limit_keys = [f"{m}_per_{w}" for m in MEASURES for w in WINDOWS]
    t.check_keys(["principal", "tag", "shared", *limit_keys])
    tag = None
    written = t.string("tag")
    if written is not None:
        tag_name, sep, value = written.partition("=")
        if not sep or not tag_name or not value:
            raise t.error("tag", 'expected "NAME=VALUE", e.g. "plan=free"')
        tag = (tag_name, value)
    principal = t.string("principal")
    if principal is not None and tag is not None:
        raise t.error("tag", "give 'principal' or 'tag', not both")
    shared = t.boolean("shared", False)
    if shared and principal is not None:
        raise t.error("shared", "a budget for one principal is already its own")
    limits = []
    for key in limit_keys:
        if key in raw:
            measure, _, window = key.partition("_per_")
            minimum = 1 if measure != "cost" else 0
            limits.append(BudgetLimit(measure, window, t.number(key, 0, minimum=minimum)))
    if not limits:
        raise where.error(None, "a budget needs at least one limit, e.g. requests_per_minute = 60")
    return BudgetSpec(name, principal, tag, shared, tuple(limits))
