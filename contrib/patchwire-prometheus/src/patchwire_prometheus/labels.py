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
    "CREDENTIAL_KINDS",
    "OTHER",
    "OPERATIONS",
    "OUTCOMES",
    "QUOTA_RESOURCES",
    "TOKEN_KINDS",
    "category",
    "credential_kind",
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
