"""Typed reads from a nested configuration table, failing with the table and key named.

Core validates a connector's top-level settings; tables nested under them (a CLI
connector's commands, a web connector's operations) are the plugin's to check, and this
gives it errors shaped like core's.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

from patchwire.config_values import Where, shown
from patchwire.errors import ConfigError

__all__ = ["Table"]

# Unless a reader states a tighter range: no count needs more, and every float holds these.
_MAX_INTEGER = 10**12
_MAX_NUMBER = 1e15


class Table:
    """One configuration table and where it came from."""

    def __init__(self, raw: Mapping[str, Any], where: Where) -> None:
        self.raw = raw
        self.where = where

    def error(self, key: str | None, message: str) -> ConfigError:
        return self.where.error(key, message)

    def check_keys(self, allowed: Sequence[str]) -> None:
        for key in self.raw:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                raise self.error(
                    str(key), f"unknown key{hint} Allowed here: {', '.join(sorted(allowed))}"
                )

    def get(self, key: str, types: tuple[type, ...], default: Any, what: str) -> Any:
        if key not in self.raw:
            return default
        value = self.raw[key]
        # bool is an int subclass: a count must not accept true/false.
        if isinstance(value, bool) and bool not in types:
            raise self.error(key, f"expected {what}, got {shown(value)}")
        if not isinstance(value, types):
            # Described, never echoed: a string here may be a misplaced credential.
            raise self.error(key, f"expected {what}, got {shown(value)}")
        return value

    def string(self, key: str, default: str | None = None) -> str | None:
        value: str | None = self.get(key, (str,), default, "a string")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value: bool = self.get(key, (bool,), default, "true or false")
        return value

    def integer(self, key: str, default: int, *, minimum: int, maximum: int = _MAX_INTEGER) -> int:
        value = self.optional_integer(key, minimum=minimum, maximum=maximum)
        return default if value is None else value

    def optional_integer(
        self, key: str, *, minimum: int, maximum: int = _MAX_INTEGER
    ) -> int | None:
        value: int | None = self.get(key, (int,), None, "an integer")
        if value is not None and not minimum <= value <= maximum:
            raise self.error(key, f"must be >= {minimum} and <= {maximum}, got {shown(value)}")
        return value

    def number(
        self, key: str, default: float, *, minimum: float, maximum: float = _MAX_NUMBER
    ) -> float:
        value = self.get(key, (int, float), default, "a number")
        # int vs float comparison is exact, so 10**400 is refused here before float() overflows.
        if not (minimum <= value <= maximum):
            raise self.error(key, f"must be >= {minimum:g} and <= {maximum:g}, got {shown(value)}")
        return float(value)

    def seconds(self, key: str, *, zero: bool) -> float | None:
        """An optional per-operation duration (a ``timeout``, a ``ttl``); None when absent.

        ``zero`` says whether 0 is meaningful (a ttl of 0: never cache); a timeout must be > 0.
        """
        if key not in self.raw:
            return None
        value = self.number(key, 0.0, minimum=0)
        if value == 0 and not zero:
            raise self.error(key, "must be > 0 seconds (leave it out to use the connector's)")
        return value

    def strings(self, key: str, default: Sequence[str]) -> tuple[str, ...]:
        value = self.get(key, (list, tuple), default, "a list of strings")
        for number, item in enumerate(value, 1):
            if not isinstance(item, str):
                raise self.error(
                    key, f"expected a list of strings; item #{number} is {shown(item)}"
                )
        return tuple(value)

    def table(self, key: str) -> Table:
        raw = self.raw.get(key, {})
        if not isinstance(raw, Mapping):
            raise self.error(
                key, f"expected a table ([{self.where.child(key).table}]), got {type(raw).__name__}"
            )
        return Table(raw, self.where.child(key))
