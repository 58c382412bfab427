"""Authentication events: recorded on the hub's event bus and logged, never with a value.

Every scheme reports what happened to its credential (acquired, refreshed, failed) through
:func:`report`, so sinks and logs see the connector and scheme names, the token endpoint
and a redacted reason, and nothing that could be replayed.
"""

from __future__ import annotations

import logging
from typing import Any

from patchwire.auth.base import AuthContext
from patchwire.events import Event, EventKind

__all__ = ["log", "report"]

log = logging.getLogger("patchwire.auth")

_VERB = {
    EventKind.CREDENTIAL_ACQUIRED: "acquired",
    EventKind.CREDENTIAL_REFRESHED: "refreshed",
    EventKind.CREDENTIAL_FAILED: "failed",
}


def report(
    ctx: AuthContext,
    kind: EventKind,
    scheme: str,
    *,
    message: str | None = None,
    category: str | None = None,
    **data: Any,
) -> None:
    """Emit ``kind`` for ``ctx.connector`` and log it on ``patchwire.auth``.

    ``data`` must hold only names and numbers (an endpoint URL, a lifetime); failures are
    logged at WARNING because a person may need to act on them, the rest at INFO.
    """
    fields = {"scheme": scheme, **data}
    ctx.emit(
        Event(
            kind,
            ctx.connector,
            time=ctx.clock.now(),
            operation="auth",
            category=category,
            message=message,
            data=fields,
        )
    )
    extra = "".join(f" {key}={value}" for key, value in data.items())
    if kind is EventKind.CREDENTIAL_FAILED:
        log.warning(
            "credential %s for connector %s (scheme %s%s): %s",
            _VERB[kind],
            ctx.connector,
            scheme,
            extra,
            message or category or "unknown reason",
        )
    else:
        log.info(
            "credential %s for connector %s (scheme %s%s)",
            _VERB.get(kind, kind.value),
            ctx.connector,
            scheme,
            extra,
        )
