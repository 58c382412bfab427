"""The configuration schema as the loader itself reads it.

The loader has no separate schema: its readers (``config_values.read``) carry each key's
types, default and bounds, and ``check_keys`` carries each table's allowed keys. This
module runs the loader over a configuration that reaches every table, with those two
functions wrapped to record what they were asked, so the reference page is checked
against the code that enforces it, never against a copy.
"""

from __future__ import annotations

import contextlib
import re
import sys
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import attrs
from patchwire import config_values
from patchwire.config import parse_config
from patchwire.config_table import Table
from patchwire.plugins import default_host

_CONNECTOR = "c"
_ROUTE = "r"
_BACKEND = "b"


@attrs.frozen
class Read:
    types: tuple[type, ...]
    default: Any
    minimum: float | None
    above: float | None
    maximum: float | None

    def type_text(self) -> str:
        return type_text(self.types)

    def default_text(self) -> str:
        return value_text(self.default)

    def bounds_text(self) -> str:
        if self.minimum is None and self.above is None and self.maximum is None:
            return "—"
        return config_values.bounds(self.minimum, self.above, self.maximum)


def type_text(types: tuple[type, ...]) -> str:
    names = {int: "integer", float: "number", str: "string", bool: "boolean"}
    if set(types) == {int, float}:
        return "number"
    return " or ".join(names.get(t, t.__name__) for t in types)


def value_text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


_MAPS = ("per_unit", "service_tiers", "context_windows")


def _norm(table: str) -> str:
    """A recorded table path with the sample names replaced by placeholders; price tables
    read inside a connector table are the same tables as top-level ones."""
    parts = [p for p in re.sub(r"\[\d+\]", "", table).split(".") if p] if table else []
    if len(parts) >= 3 and parts[0] == "connectors" and parts[2] == "prices":
        parts = parts[2:]
    names = {"connectors": "NAME", "routes": "NAME", "backends": "NAME", "prices": "MODEL"}
    if len(parts) >= 2 and parts[0] in names:
        parts[1] = names[parts[0]]
    if len(parts) >= 3 and parts[:2] == ["principals", "budgets"]:
        parts[2] = "NAME"
    return ".".join(parts) or "(top level)"


_PRICE = {
    "input": 1.0,
    "output": 2.0,
    "cached_input": 0.5,
    "cache_write_5m": 1.25,
    "cache_write_1h": 2.0,
    "reasoning_output": 2.0,
    "currency": "USD",
    "service_tiers": {"batch": 0.5},
    "per_unit": {"web_search": 0.01},
    "tiers": [{"above": 200_000, "input": 2.0, "output": 4.0}],
}

#: a configuration that reaches every table core's loader reads
SAMPLE: Mapping[str, Any] = {
    "hub": {"dead_letter": "dead.jsonl", "proxy": "direct"},
    "connectors": {
        _CONNECTOR: {
            "type": "plain",
            "api_key": "env:KEY",
            "auth": {"scheme": "bearer", "token": "env:TOKEN"},
            "tls": {"verify": True},
            "context_windows": {"m": 1000},
            "prices": {"m": _PRICE},
        }
    },
    "routes": {_ROUTE: {"targets": [f"{_CONNECTOR}:m"]}},
    "prices": {"plain:m2": [{**_PRICE, "until": "2026-01-01"}, {**_PRICE, "from": "2026-01-01"}]},
    "backends": {_BACKEND: {"type": "memory"}},
    "principals": {
        "tags": ["plan"],
        "budgets": {"free": {"tag": "plan=free", "requests_per_day": 100}},
    },
}


class _Plain:
    """A connector type with no settings of its own: the sample records core's keys only."""


@attrs.define
class Schema:
    reads: dict[str, dict[str, Read]] = attrs.Factory(lambda: defaultdict(dict))
    allowed: dict[str, set[str]] = attrs.Factory(lambda: defaultdict(set))

    def keys(self) -> dict[str, set[str]]:
        """Every table's keys: the allowed ones and the ones read (a table of names, such as
        ``context_windows``, has read keys only)."""
        out: dict[str, set[str]] = defaultdict(set)
        for table, keys in self.allowed.items():
            out[table] |= keys
        for table, reads in self.reads.items():
            out[table] |= set(reads)
        # tables of names (models, tiers, units), not of keys
        return {t: k for t, k in out.items() if t.rsplit(".", 1)[-1] not in _MAPS}


@contextlib.contextmanager
def _recording(schema: Schema) -> Iterator[None]:
    real_read, real_check = config_values.read, config_values.check_keys

    def read(table: Mapping[str, Any], key: str, types: tuple[type, ...], default: Any,
             where: config_values.Where, *, minimum: float | None = None,
             above: float | None = None, maximum: float | None = None) -> Any:  # fmt: skip
        schema.reads[_norm(where.table)][key] = Read(types, default, minimum, above, maximum)
        return real_read(
            table, key, types, default, where, minimum=minimum, above=above, maximum=maximum
        )

    def check_keys(table: Mapping[str, Any], allowed: Any, where: config_values.Where) -> None:
        schema.allowed[_norm(where.table)].update(allowed)
        real_check(table, allowed, where)

    # Every module that bound the readers by name at import gets the recording ones.
    patched: list[tuple[Any, str, Any]] = []
    for module in list(sys.modules.values()):
        name = getattr(module, "__name__", "")
        if not name.startswith("patchwire"):
            continue
        for attr, value in list(vars(module).items()):
            if value is real_read:
                patched.append((module, attr, value))
                setattr(module, attr, read)
            elif value is real_check:
                patched.append((module, attr, value))
                setattr(module, attr, check_keys)
    # Tables read through config_table.Table (plugins, principals) check keys by method.
    real_method = Table.check_keys

    def table_check_keys(self: Table, allowed: Sequence[str]) -> None:
        schema.allowed[_norm(self.where.table)].update(allowed)
        real_method(self, allowed)

    Table.check_keys = table_check_keys  # type: ignore[method-assign]
    try:
        yield
    finally:
        Table.check_keys = real_method  # type: ignore[method-assign]
        for module, attr, value in patched:
            setattr(module, attr, value)


def loader_schema() -> Schema:
    """What core's loader reads and allows, table by table."""
    schemes = default_host().registries.secret_sources
    schema = Schema()
    with _recording(schema):
        parse_config(
            SAMPLE,
            connector_types={"plain": _Plain},
            secret_schemes=schemes,
        )
    return schema
