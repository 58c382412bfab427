"""A small HTTP endpoint for metrics snapshots, and the client ``patchwire stats`` uses.

``GET /metrics.json`` answers with ``MetricsSnapshot.to_dict()`` and ``GET /metrics.txt``
with the text table. ``GET /metrics`` is whatever a plugin registered there through
``patchwire_register_metrics_formats`` (patchwire-prometheus: the Prometheus text format),
else the table, as before. Each request takes a fresh snapshot, so the endpoint costs
nothing between requests. It binds to loopback unless told otherwise: the numbers are not
secret, but an operator should choose to expose them.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from patchwire.errors import IntegrationError
from patchwire.metrics.snapshot import MetricsSnapshot
from patchwire.registry import MetricsFormat

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
    snapshot: Callable[[], MetricsSnapshot],
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    formats: Mapping[str, MetricsFormat] | None = None,
) -> MetricsServer:
    """Start serving ``snapshot()`` on ``host:port`` (0: any free port) until ``aclose()``.

    ``formats`` are the plugins' expositions by path (``Registries.metrics_formats``).
    """

    async def as_json(request: web.Request) -> web.Response:
        return web.json_response(snapshot().to_dict())

    async def as_table(request: web.Request) -> web.Response:
        return web.Response(text=snapshot().render_table(), content_type="text/plain")

    app = web.Application()
    app.router.add_get("/metrics.json", as_json)
    app.router.add_get("/metrics.txt", as_table)
    plugin_formats = dict(formats or {})
    for path, exposition in plugin_formats.items():
        app.router.add_get(path, _rendering(exposition, snapshot))
    if "/metrics" not in plugin_formats:
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


def _rendering(
    exposition: MetricsFormat, snapshot: Callable[[], MetricsSnapshot]
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def render(request: web.Request) -> web.Response:
        body = exposition.render(snapshot())
        data = body.encode() if isinstance(body, str) else body
        # The content type may carry parameters (Prometheus' "version=0.0.4"), which
        # aiohttp's content_type argument refuses, so it goes in as a header.
        return web.Response(body=data, headers={"Content-Type": exposition.content_type})

    return render


def metrics_json_url(url: str) -> str:
    """The JSON endpoint for a server's base URL, or for any of its endpoints' own URLs
    (``/metrics``, ``/metrics.txt``, ``/metrics.json``)."""
    base = url.rstrip("/")
    if base.endswith("/metrics.json"):
        return base
    for endpoint in ("/metrics.txt", "/metrics"):
        if base.endswith(endpoint):
            return base[: -len(endpoint)] + "/metrics.json"
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
