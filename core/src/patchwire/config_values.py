"""Typed reads of configuration values, with the file, table and key named in every error.

:func:`read` checks a value's type and documented range (stating the range when it
refuses); :func:`shown` is how an error may describe a value (a string never by its text,
since it may be a credential written in the wrong place); :func:`check_reference` accepts
a credential only as a reference to a secret source.
"""

from __future__ import annotations

import difflib
import math
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from patchwire.errors import ConfigError
from patchwire.secrets import split_reference

__all__ = [
    "Where",
    "bounds",
    "check_keys",
    "check_reference",
    "env_name",
    "read",
    "shown",
    "subtable",
    "type_name",
]

_NUMBER = (int, float)
_FLOAT_MAX = sys.float_info.max


@attrs.frozen
class Where:
    """Where a value came from, for error messages."""

    source: str
    table: str

    def error(self, key: str | None, message: str) -> ConfigError:
        return ConfigError(message, source=self.source, table=self.table, key=key)

    def child(self, name: str) -> Where:
        return Where(self.source, f"{self.table}.{name}" if self.table else name)


def type_name(types: tuple[type, ...]) -> str:
    names = {
        int: "an integer",
        float: "a number",
        str: "a string",
        bool: "true or false",
        list: "a list",
        dict: "a table",
    }
    return " or ".join(names.get(t, t.__name__) for t in types)


def check_keys(table: Mapping[str, Any], allowed: Sequence[str], where: Where) -> None:
    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise where.error(key, f"unknown key{hint} Allowed here: {', '.join(sorted(allowed))}")


def shown(value: Any) -> str:
    """A configuration value as an error message may show it: never a string's text.

    A string in the wrong place may be a credential pasted where it does not belong, so
    it is described by type and length; a huge integer by its number of digits.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"a string of {len(value)} characters"
    if isinstance(value, int):
        if value.bit_length() > 64:
            return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Mapping):
        return f"a table of {len(value)} keys"
    if isinstance(value, list | tuple):
        return f"a list of {len(value)} items"
    return f"a value of type {type(value).__name__}"


def read(
    table: Mapping[str, Any],
    key: str,
    types: tuple[type, ...],
    default: Any,
    where: Where,
    *,
    minimum: float | None = None,
    above: float | None = None,
    maximum: float | None = None,
) -> Any:
    if key not in table:
        return default
    value = table[key]
    # bool is an int in Python; a number setting must not accept true/false.
    if isinstance(value, bool) and bool not in types:
        raise where.error(key, f"expected {type_name(types)}, got {shown(value)}")
    if not isinstance(value, types):
        raise where.error(key, f"expected {type_name(types)}, got {shown(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise where.error(key, f"expected a finite number, got {value!r}")
    if isinstance(value, _NUMBER) and not isinstance(value, bool):
        low = (minimum is not None and value < minimum) or (above is not None and value <= above)
        if low or (maximum is not None and value > maximum):
            raise where.error(key, f"must be {bounds(minimum, above, maximum)}, got {shown(value)}")
        # Python ints are unbounded; a float setting given 10**400 would overflow float().
        if float in types and isinstance(value, int) and abs(value) > _FLOAT_MAX:
            raise where.error(
                key, f"must be a number of at most {_FLOAT_MAX:g}, got {shown(value)}"
            )
    if float in types and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def bounds(minimum: float | None, above: float | None, maximum: float | None) -> str:
    """The allowed range as an error states it: ``>= 1 and <= 100``."""
    limits = ((">=", minimum), (">", above), ("<=", maximum))
    return " and ".join(f"{op} {limit:g}" for op, limit in limits if limit is not None)


def subtable(parent: Mapping[str, Any], key: str, where: Where) -> Mapping[str, Any]:
    value = parent.get(key, {})
    if not isinstance(value, Mapping):
        raise where.error(
            key, f"expected a table ([{where.child(key).table}]), got {type(value).__name__}"
        )
    return value


_ENV_NAME = re.compile(r"[^A-Z0-9]+")


def env_name(*parts: str) -> str:
    """An environment variable name suggested for a credential: ``openai``, ``key`` -> ``OPENAI_KEY``."""
    return _ENV_NAME.sub("_", "_".join(parts).upper()).strip("_")


def check_reference(
    value: Any, key: str, where: Where, schemes: Mapping[str, object], *, suggest: str = ""
) -> str:
    """A credential setting must be a reference to a known secret source, never a literal."""
    if not isinstance(value, str) or not value:
        raise where.error(key, "expected a credential reference such as 'env:NAME' or 'file:/path'")
    parts = split_reference(value)
    known = ", ".join(f"'{s}:'" for s in sorted(schemes))
    env = suggest or env_name(where.table.split(".")[-1], key)
    if parts is None or parts[0] not in schemes:
        # Never echo any part of the value: it may be the credential itself.
        raise where.error(
            key,
            f"is not a reference to a known secret source (known sources: {known})."
            " If it is a literal credential: credentials never go in configuration. Put the"
            f' value in a secret store and reference it, e.g. "env:{env}" or'
            f' "file:/run/secrets/{env.lower()}"',
        )
    return value
