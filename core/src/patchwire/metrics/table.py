"""The fixed-width text table of a metrics snapshot (``patchwire stats``, ``GET /metrics``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from patchwire.metrics.snapshot import (
    ConnectorMetrics,
    CostShare,
    MetricsSnapshot,
    PrincipalMetrics,
)

__all__ = ["render_table"]


def render_table(snapshot: MetricsSnapshot) -> str:
    """A fixed-width text table, one row per connector and model."""
    if snapshot.window is None:
        title = f"patchwire metrics since start ({snapshot.taken_at - snapshot.since:.1f} s)"
    else:
        title = f"patchwire metrics, last {snapshot.window:g} s"
    lines = [title]
    if not snapshot.connectors:
        lines.append("(nothing recorded)")
    else:
        width = max(len("connector:model"), *(len(row.name) for row in snapshot.connectors))
        header = [f"{'connector:model':<{width}}"]
        header += [f"{label:>{size}}" for label, size, _ in _COLUMNS]
        lines.append("  ".join(header))
        for row in snapshot.connectors:
            cells = [f"{row.name:<{width}}"]
            cells += [f"{render(row):>{size}}" for _, size, render in _COLUMNS]
            lines.append("  ".join(cells))
    # A model with no price at all is the "+?" of its cost cell; a priced model whose calls
    # used a rule without a figure (a cache write class, a service tier...) is named here.
    for row in snapshot.connectors:
        rules = {rule: n for rule, n in row.cost_missing.items() if rule != "price"}
        if rules:
            named = ", ".join(f"{rule}={n}" for rule, n in sorted(rules.items()))
            lines.append(f"cost unknown, {row.name}: no figure for {named}")
    if snapshot.principals is not None and snapshot.principals.used:
        lines += _principal_lines(snapshot.principals)
    if snapshot.sink_failures:
        failures = ", ".join(f"{name}={n}" for name, n in sorted(snapshot.sink_failures.items()))
        lines.append(f"sink failures: {failures}")
    return "\n".join(lines) + "\n"


#: principals shown by name, the most costly first; the rest are summed on one line
SHOWN_PRINCIPALS = 20


def _principal_lines(principals: PrincipalMetrics) -> list[str]:
    """The "cost by principal" and "cost by tag" sections, shown once calls had principals."""
    ranked = sorted(
        principals.by_principal.items(), key=lambda kv: (-kv[1].cost, -kv[1].calls, kv[0])
    )
    rows = [(name, share) for name, share in ranked[:SHOWN_PRINCIPALS]]
    rest = ranked[SHOWN_PRINCIPALS:]
    if rest:
        rows.append((f"({len(rest)} more)", sum((share for _, share in rest), CostShare())))
    rows.append(("(no principal)", principals.unattributed))
    title = "cost by principal"
    if principals.folded_principals:
        more = "" if principals.folded_exact else " or more"
        title += (
            f" ({principals.folded_principals}{more} beyond the first"
            f" {principals.max_principals} counted as (other))"
        )
    out = ["", title, *_share_table("principal", rows)]
    tag_rows = [
        (f"{tag}={value}", share)
        for tag, values in principals.by_tag.items()
        for value, share in sorted(values.items(), key=lambda kv: (-kv[1].cost, kv[0]))
    ]
    if tag_rows:
        title = "cost by tag"
        if principals.folded_tag_values:
            title += (
                f" ({principals.folded_tag_values} values beyond the first"
                f" {principals.max_tag_values} per tag counted as (other))"
            )
        out += ["", title, *_share_table("tag=value", tag_rows)]
    return out


def _share_table(label: str, rows: Sequence[tuple[str, CostShare]]) -> list[str]:
    width = max(len(label), *(len(name) for name, _ in rows))
    header = [f"{label:<{width}}", *(f"{title:>{size}}" for title, size, _ in _SHARE_COLUMNS)]
    lines = ["  ".join(header)]
    for name, share in rows:
        cells = [f"{name:<{width}}"]
        cells += [f"{render(share):>{size}}" for _, size, render in _SHARE_COLUMNS]
        lines.append("  ".join(cells))
    return lines


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}"


def _cost(row: ConnectorMetrics | CostShare) -> str:
    return f"{row.cost:.4f}" + ("+?" if row.cost_unknown else "")


def _per_run(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _quota(row: ConnectorMetrics) -> str:
    used = row.quota.used_pct
    return "-" if used is None else f"{used:.1f}"


_COLUMNS: Sequence[tuple[str, int, Callable[[ConnectorMetrics], str]]] = (
    ("calls", 6, lambda r: str(r.calls)),
    ("p50 ms", 8, lambda r: _ms(r.latency.p50)),
    ("p95 ms", 8, lambda r: _ms(r.latency.p95)),
    ("p99 ms", 8, lambda r: _ms(r.latency.p99)),
    ("err %", 5, lambda r: _pct(r.error_rate)),
    ("retries", 7, lambda r: str(r.retries.scheduled)),
    ("fallbk", 6, lambda r: str(r.fallbacks)),
    ("xform", 5, lambda r: str(r.transforms)),
    ("tmo", 5, lambda r: str(r.timeouts)),
    ("tok in", 9, lambda r: str(r.input_tokens)),
    ("tok out", 9, lambda r: str(r.output_tokens)),
    ("tools", 6, lambda r: str(r.tool_calls)),
    ("runs", 5, lambda r: str(r.runs)),
    ("tl/run", 6, lambda r: _per_run(r.tool_calls_per_run)),
    ("invalid", 7, lambda r: str(sum(r.invalid_outputs.values()))),
    ("cost", 10, _cost),
    ("saved", 8, lambda r: f"{r.cache_savings:.4f}"),
    ("cache %", 7, lambda r: _pct(r.cache.hit_rate)),
    ("wait s", 7, lambda r: f"{r.limiter.wait_total:.2f}"),
    ("quota %", 7, _quota),
)

_SHARE_COLUMNS: Sequence[tuple[str, int, Callable[[CostShare], str]]] = (
    ("calls", 6, lambda s: str(s.calls)),
    ("failed", 6, lambda s: str(s.failed)),
    ("tok in", 9, lambda s: str(s.input_tokens)),
    ("tok out", 9, lambda s: str(s.output_tokens)),
    ("cost", 10, _cost),
    ("saved", 8, lambda s: f"{s.cache_savings:.4f}"),
)
