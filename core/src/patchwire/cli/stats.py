"""``patchwire stats``: show the metrics a running application serves.

The application serves them with ``hub.serve_metrics()``; this command reads
``/metrics.json`` and prints the table, or the JSON itself with ``--json``. ``--url`` may
name the server or any of its endpoints (``/metrics``, which is the Prometheus format when
patchwire-prometheus is installed, ``/metrics.txt`` or ``/metrics.json``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

__all__ = ["DEFAULT_URL", "configure", "run"]

DEFAULT_URL = "http://127.0.0.1:9464"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url",
        default=DEFAULT_URL,
        help=(
            "the application's metrics server, or any of its /metrics, /metrics.txt and"
            f" /metrics.json URLs (default: {DEFAULT_URL})"
        ),
    )
    parser.add_argument("--json", action="store_true", help="print the snapshot as JSON")


def run(args: argparse.Namespace) -> int:
    """Print the metrics; exit code 2 when they cannot be read."""
    # Imported here so that `patchwire --help` does not pay for aiohttp.
    from patchwire.errors import IntegrationError
    from patchwire.metrics import MetricsSnapshot
    from patchwire.metrics_server import fetch_metrics

    try:
        data = asyncio.run(fetch_metrics(args.url))
    except (ConnectionError, ValueError) as exc:
        print(f"patchwire stats: {exc}", file=sys.stderr)
        return 2
    except IntegrationError as exc:
        print(f"patchwire stats: {exc.message}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(data, indent=2, sort_keys=True))
        return 0
    try:
        snapshot = MetricsSnapshot.from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        print(
            f"patchwire stats: {args.url} sent a snapshot this version cannot read ({exc})",
            file=sys.stderr,
        )
        return 2
    sys.stdout.write(snapshot.render_table())
    return 0
