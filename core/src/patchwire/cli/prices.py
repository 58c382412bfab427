"""``patchwire prices``: the price table in force, with where each entry came from.

Entries come from the installed connector plugins (their list prices, each naming the
page it was read from and when) and then the configuration, which replaces a plugin's
entry for the same model. ``--json`` prints the same as data.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from patchwire.prices import Price, PriceEntry, PriceTable

__all__ = ["configure", "entry_dict", "render", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="configuration file (default: $PATCHWIRE_CONFIG, then ./patchwire.toml, then defaults)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "match", nargs="?", default="", help="only entries whose connector_type:model contains this"
    )


def _rate(value: float | None) -> str:
    return "?" if value is None else f"{value:g}"


def _price_dict(price: Price) -> dict[str, Any]:
    return {
        "currency": price.currency,
        "input": price.input_per_million,
        "output": price.output_per_million,
        "cached_input": price.cached_input_per_million,
        "cache_write_5m": price.cache_write_5m_per_million,
        "cache_write_1h": price.cache_write_1h_per_million,
        "reasoning_output": price.reasoning_output_per_million,
        "tiers": [
            {"above": t.above, **({} if t.price is None else _rates(t.price))}
            | {"known": t.price is not None}
            for t in price.tiers
        ],
        "service_tiers": dict(price.service_tiers),
        "per_unit": dict(price.per_unit),
        "from": None if price.effective_from is None else price.effective_from.isoformat(),
        "until": None if price.effective_until is None else price.effective_until.isoformat(),
        "source": price.source,
        "as_of": price.as_of,
    }


def _rates(price: Price) -> dict[str, float | None]:
    return {
        "input": price.input_per_million,
        "output": price.output_per_million,
        "cached_input": price.cached_input_per_million,
        "cache_write_5m": price.cache_write_5m_per_million,
        "cache_write_1h": price.cache_write_1h_per_million,
    }


def entry_dict(entry: PriceEntry) -> dict[str, Any]:
    return {
        "connector_type": entry.connector_type,
        "model": entry.model,
        "origin": entry.origin,
        "prices": [_price_dict(p) for p in entry.prices],
    }


def _rules(price: Price) -> str:
    parts = []
    for tier in price.tiers:
        rates = (
            "?"
            if tier.price is None
            else (f"{_rate(tier.price.input_per_million)}/{_rate(tier.price.output_per_million)}")
        )
        parts.append(f">{tier.above}:{rates}")
    parts += [f"{name}x{_rate(f)}" for name, f in price.service_tiers]
    parts += [f"{name}={_rate(f)}" for name, f in price.per_unit]
    return " ".join(parts) or "-"


def _dates(price: Price) -> str:
    if price.effective_from is None and price.effective_until is None:
        return "-"
    start = "" if price.effective_from is None else price.effective_from.isoformat()
    end = "" if price.effective_until is None else price.effective_until.isoformat()
    return f"{start}..{end}"


_COLUMNS = ("in", "out", "cached", "w5m", "w1h")


def render(entries: list[PriceEntry]) -> str:
    """One line per price: rates per million tokens, the rules, dates, source and origin."""
    if not entries:
        return "(no prices)\n"
    rows = []
    for entry in entries:
        for price in entry.prices:
            rows.append(
                [
                    f"{entry.connector_type}:{entry.model}",
                    price.currency,
                    _rate(price.input_per_million),
                    _rate(price.output_per_million),
                    _rate(price.cached_input_per_million)
                    if price.cached_input_per_million is not None
                    else "=in",
                    _rate(price.cache_write_5m_per_million),
                    _rate(price.cache_write_1h_per_million),
                    _rules(price),
                    _dates(price),
                    " ".join(x for x in (price.source, price.as_of) if x) or "-",
                    entry.origin or "-",
                ]
            )
    header = ["connector:model", "cur", *_COLUMNS, "rules", "dates", "source (read)", "from"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    lines.append(
        "rates per million tokens; ? = unknown (a call that uses it has an unknown cost);"
        " =in = the input rate; NAMExF = a service tier's factor; NAME=P = per unit"
    )
    return "\n".join(lines) + "\n"


def table_in_force(config: str | None) -> PriceTable:
    from patchwire.hub import Hub

    return Hub.from_environment(config).prices


def run(args: argparse.Namespace) -> int:
    table = table_in_force(args.config)
    entries = [e for e in table if args.match in f"{e.connector_type}:{e.model}"]
    if args.json:
        json.dump([entry_dict(e) for e in entries], sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render(entries))
    return 0
