"""Typed reads from a nested configuration table, failing with the table and key named.

Core validates a connector's top-level settings; tables nested under them (a CLI
connector's commands, a web connector's operations) are the plugin's to check, and this
gives it errors shaped like core's.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

from patchwire.config import Where
from patchwire.errors import ConfigError

__all__ = ["Table"]


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
            raise self.error(key, f"expected {what}, got {value!r}")
        if not isinstance(value, types):
            raise self.error(key, f"expected {what}, got {type(value).__name__} {value!r}")
        return value

    def string(self, key: str, default: str | None = None) -> str | None:
        value: str | None = self.get(key, (str,), default, "a string")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value: bool = self.get(key, (bool,), default, "true or false")
        return value

    def integer(self, key: str, default: int, *, minimum: int) -> int:
        value = self.optional_integer(key, minimum=minimum)
        return default if value is None else value

    def optional_integer(self, key: str, *, minimum: int) -> int | None:
        value: int | None = self.get(key, (int,), None, "an integer")
        if value is not None and value < minimum:
            raise self.error(key, f"must be >= {minimum}, got {value}")
        return value

    def number(self, key: str, default: float, *, minimum: float) -> float:
        value = self.get(key, (int, float), default, "a number")
        if value < minimum:
            raise self.error(key, f"must be >= {minimum:g}, got {value!r}")
        return float(value)

    def strings(self, key: str, default: Sequence[str]) -> tuple[str, ...]:
        value = self.get(key, (list, tuple), default, "a list of strings")
        if not all(isinstance(item, str) for item in value):
            raise self.error(key, f"expected a list of strings, got {list(value)!r}")
        return tuple(value)

    def table(self, key: str) -> Table:
        raw = self.raw.get(key, {})
        if not isinstance(raw, Mapping):
            raise self.error(
                key, f"expected a table ([{self.where.child(key).table}]), got {type(raw).__name__}"
            )
        return Table(raw, self.where.child(key))
