"""The ``patchwire`` entry point: serves the Prometheus text format at ``/metrics``.

``prometheus_client`` is imported only when the hook runs (when a plugin host builds its
registries), so ``import patchwire`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from patchwire.hookspecs import hookimpl

if TYPE_CHECKING:
    from patchwire.registry import MetricsFormatRegistrar

__all__ = ["PrometheusPlugin", "plugin"]


class PrometheusPlugin:
    PATCHWIRE_CONTRACT = "1.0"

    @hookimpl
    def patchwire_register_metrics_formats(self, register: MetricsFormatRegistrar) -> None:
        from patchwire_prometheus.exposition import (
            CONTENT_TYPE,
            buckets_from_environment,
            renderer,
        )

        register("/metrics", CONTENT_TYPE, renderer(buckets_from_environment()))


plugin = PrometheusPlugin()
