"""The ``patchwire`` entry point: serves the Prometheus text format at ``/metrics``.

Configured by the hub's ``[exporters.prometheus]`` table::

    [exporters.prometheus]
    buckets = [0.1, 0.5, 1, 2, 5, 10, 30, 60]   # latency histogram bounds, seconds
    principal_label = "none"   # per-principal cost series: "none", "hash" or "id"

Cost is always exported per value of the declared ``[principals] tags``; per principal
only when ``principal_label`` asks (see ``patchwire_prometheus.principals``).

``PATCHWIRE_PROMETHEUS_BUCKETS`` (the same bounds, comma-separated) overrides the table
when it is set, for a deployment that changes them without touching the file.
``prometheus_client`` is imported only when the hook runs (when a plugin host builds its
registries), so ``import patchwire`` stays fast.
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING

from patchwire.hookspecs import hookimpl

if TYPE_CHECKING:
    from collections.abc import Callable

    from patchwire.config_table import Table
    from patchwire.metrics import MetricsSnapshot
    from patchwire.registry import MetricsFormatRegistrar

__all__ = ["EXPORTER", "PrometheusPlugin", "plugin"]

EXPORTER = "prometheus"
"""The name of this exporter's configuration table: ``[exporters.prometheus]``."""


class PrometheusPlugin:
    PATCHWIRE_CONTRACT = "1.0"

    def __init__(self) -> None:
        self._configured: tuple[float, ...] | None = None
        self._environment: tuple[float, ...] | None = None
        self._principal_label = "none"
        self._render: (
            tuple[tuple[tuple[float, ...], str], Callable[[MetricsSnapshot], bytes]] | None
        ) = None

    @property
    def buckets(self) -> tuple[float, ...]:
        """The latency bounds in force: the environment's, else the table's, else the defaults."""
        from patchwire_prometheus.collector import DEFAULT_BUCKETS

        return self._environment or self._configured or DEFAULT_BUCKETS

    @hookimpl
    def patchwire_configure_exporter(self, name: str, table: Table) -> bool | None:
        if name != EXPORTER:
            return None
        table.check_keys(["buckets", "principal_label"])
        from patchwire_prometheus.principals import PRINCIPAL_LABELS

        label = table.string("principal_label", "none")
        if label not in PRINCIPAL_LABELS:
            raise table.error(
                "principal_label",
                f"expected one of {', '.join(map(repr, PRINCIPAL_LABELS))}: 'none' exports"
                " cost per declared tag value only, 'hash' adds a series per principal"
                " labelled with a hash of its id, 'id' with the id itself",
            )
        self._principal_label = label or "none"
        raw = table.get("buckets", (list,), None, "a list of upper bounds in seconds")
        if raw is not None:
            if not all(
                isinstance(b, int | float) and not isinstance(b, bool) and math.isfinite(b)
                for b in raw
            ):
                raise table.error("buckets", "expected numbers of seconds, e.g. [0.1, 0.5, 1, 5]")
            from patchwire_prometheus.collector import check_buckets

            try:
                self._configured = check_buckets(raw)
            except ValueError as exc:
                raise table.error("buckets", str(exc)) from None
        return True

    @hookimpl
    def patchwire_register_metrics_formats(self, register: MetricsFormatRegistrar) -> None:
        from patchwire_prometheus.exposition import (
            BUCKETS_ENV,
            CONTENT_TYPE,
            buckets_from_environment,
        )

        # Read here so that a bad value fails the plugin's load, where `patchwire plugins`
        # shows it, rather than every scrape.

        if os.environ.get(BUCKETS_ENV, "").strip():
            self._environment = buckets_from_environment()
        register("/metrics", CONTENT_TYPE, self.render)

    def render(self, snapshot: MetricsSnapshot) -> bytes:
        """The Prometheus text for ``snapshot`` with the bounds in force now."""
        from patchwire_prometheus.exposition import renderer

        key = (self.buckets, self._principal_label)
        if self._render is None or self._render[0] != key:
            self._render = (key, renderer(*key))
        return self._render[1](snapshot)


plugin = PrometheusPlugin()
