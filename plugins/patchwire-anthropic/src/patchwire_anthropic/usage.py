"""The parts of Anthropic's ``usage`` object that pricing rules need beyond token counts:
1-hour cache writes, server-side web searches and the service tier."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from patchwire.prices import tier_name

__all__ = ["billing_details", "keep_billing_details"]


def _count(table: Any, name: str) -> int:
    value = table.get(name) if isinstance(table, Mapping) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def billing_details(usage: Mapping[str, Any]) -> dict[str, Any]:
    """``Usage`` keyword arguments for the 1-hour share of cache writes
    (``cache_creation.ephemeral_1h_input_tokens``), web searches
    (``server_tool_use.web_search_requests``) and ``service_tier``."""
    return {
        "cache_creation_1h_input_tokens": _count(
            usage.get("cache_creation"), "ephemeral_1h_input_tokens"
        ),
        "web_search_requests": _count(usage.get("server_tool_use"), "web_search_requests"),
        "service_tier": tier_name(usage.get("service_tier")),
    }


def keep_billing_details(counts: dict[str, Any], usage: Mapping[str, Any]) -> None:
    """Copy the same fields from a stream event's ``usage`` into the running ``counts``."""
    for name in ("cache_creation", "server_tool_use", "service_tier"):
        value = usage.get(name)
        if value is not None:
            counts[name] = value
