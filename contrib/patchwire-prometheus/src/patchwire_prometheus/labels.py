"""The label values the exporter may emit, each from a bounded source.

Every series is labelled by the snapshot row's ``connector`` (a configured connector name)
and ``model`` (a model the application addressed; ``""`` for connector-wide rows), plus at
most one value from a closed vocabulary below. Anything else a snapshot carries as text
(an error category a plugin made up, a breaker state, a quota reset message) is mapped into
the vocabulary or dropped, so the number of series is bounded by rows times a constant and
no prompt, request id or user string can become a label.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from patchwire.errors import Category

__all__ = [
    "BREAKER_STATES",
    "CATEGORIES",
    "COST_RULES",
    "CREDENTIAL_KINDS",
    "INVALID_KINDS",
    "OTHER",
    "OPERATIONS",
    "OUTCOMES",
    "QUOTA_RESOURCES",
    "TOKEN_KINDS",
    "category",
    "cost_rule",
    "credential_kind",
    "invalid_kind",
    "operation",
]

OTHER = "other"
"""A category the vocabulary does not know, e.g. from a third-party plugin's event."""

CATEGORIES = frozenset({c.value for c in Category} | {"unknown", OTHER})
OUTCOMES = frozenset({"succeeded", "failed"})
TOKEN_KINDS = frozenset({"input", "output"})
QUOTA_RESOURCES = frozenset({"requests", "tokens"})
BREAKER_STATES = ("closed", "open", "half_open")

# The aggregator counts credential events under their event kind's value.
_CREDENTIAL_KINDS: Mapping[str, str] = {
    "credential_acquired": "acquired",
    "credential_refreshed": "refreshed",
    "credential_failed": "failed",
    "secret_reread": "secret_reread",
}
CREDENTIAL_KINDS = frozenset(_CREDENTIAL_KINDS.values()) | {OTHER}


def category(name: str) -> str:
    """An error category as a label value: core's categories and ``unknown`` pass, the rest
    become ``other``."""
    return name if name in CATEGORIES else OTHER


def credential_kind(name: str) -> str:
    return _CREDENTIAL_KINDS.get(name, OTHER)


# The pricing rules a bill can find no figure for (patchwire.prices.bill). A rule that
# carries a value ("service_tier:flex", "context_tier:>200000", "per_unit:web_search")
# keeps only its family: the value comes from a provider's reply or the price table.
_PLAIN_RULES = frozenset(
    {"price", "input", "cache_read", "cache_write_5m", "cache_write_1h", "output", "reasoning"}
)
_RULE_FAMILIES = ("service_tier", "context_tier", "per_unit")
COST_RULES = _PLAIN_RULES | frozenset(_RULE_FAMILIES) | {OTHER}


def cost_rule(name: str) -> str:
    """A pricing rule without a figure as a label value: the rule, its family, or ``other``."""
    if name in _PLAIN_RULES:
        return name
    family = name.partition(":")[0]
    return family if family in _RULE_FAMILIES else OTHER


# What a reply that failed validation failed on (patchwire.metrics: invalid_outputs).
INVALID_KINDS = frozenset({"output", "tool_arguments", OTHER})


def invalid_kind(name: str) -> str:
    return name if name in INVALID_KINDS else OTHER


OPERATIONS = frozenset({"complete", "stream", "embed", "list_tools", "tool:" + OTHER, OTHER})
# A tool operation keeps its name (the application chose to call it, as it chose its
# models) when it looks like one; anything else is counted as "tool:other".
_TOOL_NAME = re.compile(r"tool:[A-Za-z0-9_.\-]{1,64}")


def operation(name: str) -> str:
    """A patchwire operation as a label value: ``complete``, ``stream``, ``embed``,
    ``list_tools``, ``tool:NAME`` for a plausible tool name, else ``tool:other``/``other``."""
    if name in OPERATIONS:
        return name
    if name.startswith("tool:"):
        return name if _TOOL_NAME.fullmatch(name) else "tool:" + OTHER
    return OTHER
