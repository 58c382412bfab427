"""Prometheus exposition of patchwire's metrics.

Installed, the plugin in ``patchwire_prometheus.plugin`` makes ``hub.serve_metrics()``
answer ``/metrics`` in the Prometheus text format. Applications that already run a
``prometheus_client`` registry register ``patchwire_prometheus.collector.PatchwireCollector``
in it instead. Nothing here is imported by the entry point, so discovery stays cheap.
"""
