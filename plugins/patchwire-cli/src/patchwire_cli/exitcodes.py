"""What a program's exit status means: success, or one of patchwire's error categories.

Defaults follow sysexits.h, the one widespread convention for exit statuses: 0 is success,
64-78 say whose fault a failure was (bad usage or input → invalid_request; a temporary
failure or I/O error → transient; no permission → auth; an unavailable service →
degraded), and any other status, or death by a signal, is integration: the tool did not
behave as declared. Configuration overrides any status, e.g. ``{1 = "ok"}`` for grep's
"no match" or ``{2 = "invalid_request"}`` for a program that uses 2 for bad usage.
"""

from __future__ import annotations

import signal
from collections.abc import Mapping
from typing import Any

import attrs
from patchwire.config import Where
from patchwire.errors import Category

__all__ = ["OK", "SYSEXITS", "ExitCodes", "describe_status", "parse_exit_codes"]

#: the configuration value that makes a status count as success
OK = "ok"

SYSEXITS: Mapping[int, Category] = {
    64: Category.INVALID_REQUEST,  # EX_USAGE
    65: Category.INVALID_REQUEST,  # EX_DATAERR
    66: Category.INVALID_REQUEST,  # EX_NOINPUT
    67: Category.INVALID_REQUEST,  # EX_NOUSER
    68: Category.INVALID_REQUEST,  # EX_NOHOST
    69: Category.DEGRADED,  # EX_UNAVAILABLE
    70: Category.INTEGRATION,  # EX_SOFTWARE
    71: Category.TRANSIENT,  # EX_OSERR
    72: Category.INTEGRATION,  # EX_OSFILE
    73: Category.INVALID_REQUEST,  # EX_CANTCREAT
    74: Category.TRANSIENT,  # EX_IOERR
    75: Category.TRANSIENT,  # EX_TEMPFAIL
    76: Category.INTEGRATION,  # EX_PROTOCOL
    77: Category.AUTH,  # EX_NOPERM
    78: Category.INTEGRATION,  # EX_CONFIG
}

# circuit_open comes from the breaker and config errors from loading, never from a program.
_ASSIGNABLE = tuple(c.value for c in Category if c not in (Category.CIRCUIT_OPEN, Category.CONFIG))

# Negative statuses are deaths by signal, as asyncio reports them (-9: SIGKILL).
_LOWEST = -64
_HIGHEST = 255


@attrs.frozen
class ExitCodes:
    """Configured statuses (None: success) over the defaults."""

    overrides: Mapping[int, Category | None] = attrs.field(factory=dict)

    def category(self, status: int) -> Category | None:
        """The category a status means, or None when it is success."""
        if status in self.overrides:
            return self.overrides[status]
        if status == 0:
            return None
        return SYSEXITS.get(status, Category.INTEGRATION)

    def over(self, base: ExitCodes) -> ExitCodes:
        """These overrides on top of ``base``'s (a command's table over its connector's)."""
        return ExitCodes({**base.overrides, **self.overrides})


def parse_exit_codes(raw: Mapping[Any, Any], where: Where, key: str) -> ExitCodes:
    """``{status = "category" | "ok"}``; TOML table keys arrive as strings."""
    out: dict[int, Category | None] = {}
    for status_key, value in raw.items():
        try:
            status = int(str(status_key))
        except ValueError:
            raise where.error(
                key, f"{status_key!r} is not an exit status; keys are integers such as 2 or 75"
            ) from None
        if not _LOWEST <= status <= _HIGHEST:
            raise where.error(
                key,
                f"exit status {status} is out of range: statuses are 0-255, and -1 to -64 mean"
                " killed by that signal",
            )
        if value == OK:
            out[status] = None
        elif isinstance(value, str) and value in _ASSIGNABLE:
            out[status] = Category(value)
        else:
            raise where.error(
                key,
                f"status {status} maps to {value!r}; expected 'ok' or one of: {', '.join(_ASSIGNABLE)}",
            )
    return ExitCodes(out)


def describe_status(status: int) -> str:
    if status >= 0:
        return f"exited with status {status}"
    try:
        name = signal.Signals(-status).name
    except ValueError:
        name = f"signal {-status}"
    return f"was killed by {name}"
