"""The fixed-width text table of a metrics snapshot (``patchwire stats``, ``GET /metrics``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from patchwire.metrics.snapshot import ConnectorMetrics, MetricsSnapshot

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
    if snapshot.sink_failures:
        failures = ", ".join(f"{name}={n}" for name, n in sorted(snapshot.sink_failures.items()))
        lines.append(f"sink failures: {failures}")
    return "\n".join(lines) + "\n"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}"


def _cost(row: ConnectorMetrics) -> str:
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
