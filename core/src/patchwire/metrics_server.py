"""A small HTTP endpoint for metrics snapshots, and the client ``patchwire stats`` uses.

``GET /metrics.json`` answers with ``MetricsSnapshot.to_dict()``, ``GET /metrics`` with the
text table. Each request takes a fresh snapshot, so the endpoint costs nothing between
requests. It binds to loopback unless told otherwise: the numbers are not secret, but an
operator should choose to expose them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from patchwire.errors import IntegrationError
from patchwire.metrics.snapshot import MetricsSnapshot

__all__ = ["MetricsServer", "fetch_metrics", "metrics_json_url", "serve_metrics"]


class MetricsServer:
    """A running metrics endpoint; ``port`` is the bound port (useful after ``port=0``)."""

    __slots__ = ("_runner", "host", "port")

    def __init__(self, runner: web.AppRunner, host: str, port: int) -> None:
        self._runner = runner
        self.host = host
        self.port = port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def aclose(self) -> None:
        await self._runner.cleanup()

    async def __aenter__(self) -> MetricsServer:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"MetricsServer(url={self.url!r})"


async def serve_metrics(
    snapshot: Callable[[], MetricsSnapshot], *, host: str = "127.0.0.1", port: int = 0
) -> MetricsServer:
    """Start serving ``snapshot()`` on ``host:port`` (0: any free port) until ``aclose()``."""

    async def as_json(request: web.Request) -> web.Response:
        return web.json_response(snapshot().to_dict())

    async def as_table(request: web.Request) -> web.Response:
        return web.Response(text=snapshot().render_table(), content_type="text/plain")

    app = web.Application()
    app.router.add_get("/metrics.json", as_json)
    app.router.add_get("/metrics", as_table)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound_port = runner.addresses[0][1]
    return MetricsServer(runner, host, bound_port)


def metrics_json_url(url: str) -> str:
    """The JSON endpoint for a server's base URL (or for either endpoint's own URL)."""
    base = url.rstrip("/")
    if base.endswith("/metrics.json"):
        return base
    if base.endswith("/metrics"):
        return base + ".json"
    return base + "/metrics.json"


async def fetch_metrics(url: str, *, timeout: float = 10.0) -> dict[str, Any]:
    """Read a snapshot's dict from a metrics server.

    Raises ``ValueError`` for a URL that is not http(s), ``ConnectionError`` when nothing
    answers at ``url`` and ``IntegrationError`` when something answers that is not a
    metrics endpoint.
    """
    target = metrics_json_url(url)
    parsed = urlsplit(target)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
            session.get(target) as response,
        ):
            status = response.status
            body = await response.read()
    except aiohttp.ClientConnectorDNSError:
        raise ConnectionError(f"cannot resolve the host of {url}") from None
    except aiohttp.ClientConnectorError as exc:
        reason = (
            "connection refused"
            if isinstance(exc.os_error, ConnectionRefusedError)
            else exc.os_error.strerror or str(exc.os_error)
        )
        raise ConnectionError(f"nothing is listening at {url} ({reason})") from None
    except TimeoutError:
        raise ConnectionError(f"no answer from {target} within {timeout:g} s") from None
    except aiohttp.ClientError as exc:
        raise ConnectionError(f"cannot read metrics from {target}: {exc}") from None
    if status != 200:
        raise IntegrationError(f"{target} answered HTTP {status}, not metrics", status=status)
    try:
        data = json.loads(body)
    except ValueError:
        raise IntegrationError(f"{target} did not answer with JSON", status=status) from None
    if not isinstance(data, dict) or not isinstance(data.get("connectors"), list):
        raise IntegrationError(f"{target} answered JSON that is not a metrics snapshot")
    return data
