"""Scopes per connector and per operation: what a token is asked for, and load-time warnings.

An ``[auth]`` table of a delegated or token-exchange scheme may declare, besides the
connector's ``scopes``, what each tool operation needs::

    scopes = ["repo:read", "repo:write"]
    operation_scopes = { list_issues = ["repo:read"], create_issue = ["repo:write"] }

A call of a declared operation then uses a token carrying only that operation's scopes
(the token-exchange scheme asks for exactly those), so a read operation never travels
with a write scope. Configuration that asks for scopes no declared operation needs is a
warning at load (:func:`scope_warnings`), and ``patchwire doctor`` lists what each
connector and operation will request.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

__all__ = ["ScopePlan", "read_operation_scopes", "scope_warnings"]

log = logging.getLogger("patchwire.config")

#: auth schemes that honour ``operation_scopes``
SCOPED_SCHEMES = frozenset({"oauth2_delegated", "oauth2_token_exchange"})


class ScopePlan:
    """The connector's scopes and each declared operation's."""

    def __init__(
        self, connector: tuple[str, ...], operations: Mapping[str, tuple[str, ...]]
    ) -> None:
        self.connector = connector
        self.operations = MappingProxyType(dict(operations))

    def for_operation(self, operation: str | None) -> tuple[str, ...]:
        """The scopes a token for ``operation`` carries: its own when declared."""
        if operation is not None and operation in self.operations:
            return self.operations[operation]
        return self.connector

    def describe(self) -> dict[str, str]:
        out = {f"scopes[{op}]": " ".join(s) for op, s in sorted(self.operations.items())}
        if self.connector:
            out["scopes"] = " ".join(self.connector)
        return out


def read_operation_scopes(
    settings: Any, key: str = "operation_scopes"
) -> dict[str, tuple[str, ...]]:
    """``operation_scopes`` of an ``AuthSettings``: a table of operation -> scope list."""
    raw = settings.raw.get(key)
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise settings.where.error(key, "expected a table of operation = [scope, ...]")
    out: dict[str, tuple[str, ...]] = {}
    for operation, scopes in raw.items():
        if isinstance(scopes, str):
            scopes = scopes.split()
        if not isinstance(scopes, list) or not all(isinstance(s, str) and s for s in scopes):
            raise settings.where.error(
                key, f"operation '{operation}': expected a list of scope names"
            )
        out[str(operation)] = tuple(scopes)
    return out


def scope_warnings(connectors: Mapping[str, Any]) -> list[str]:
    """One message per connector whose ``scopes`` ask more than its operations declare."""
    warnings: list[str] = []
    for _, config in sorted(connectors.items()):
        auth = config.auth
        if not auth or auth.get("scheme") not in SCOPED_SCHEMES:
            continue
        ops = auth.get("operation_scopes")
        scopes = auth.get("scopes") or []
        if isinstance(scopes, str):
            scopes = scopes.split()
        if not isinstance(ops, Mapping) or not isinstance(scopes, list):
            continue
        declared = {
            s
            for v in ops.values()
            for s in (v.split() if isinstance(v, str) else v if isinstance(v, list) else [])
        }
        extra = [s for s in scopes if s not in declared]
        if extra:
            warnings.append(
                f"{config.where.source}: [{config.where.table}.auth] scopes asks for"
                f" {' '.join(extra)}, which no operation in operation_scopes declares;"
                " drop it, or declare the operation that needs it"
            )
    for message in warnings:
        log.warning("%s", message)
    return warnings
