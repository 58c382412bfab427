"""An aiohttp application served on 127.0.0.1 for the length of a test.

Tests that need a real server answering in a crafted way (an odd usage, a redirect, a
count of what arrived) write the handlers and let this run them on a free loopback port.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

__all__ = ["serve_app"]


@asynccontextmanager
async def serve_app(
    app: web.Application, *, ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[str]:
    """Serve ``app`` on 127.0.0.1 (a free port) and yield its base URL, ``http://127.0.0.1:PORT``
    (``https://`` with a server ``ssl_context``)."""
    # handler_cancellation: a client that gives up ends the handler; the short
    # shutdown_timeout keeps the cleanup from waiting on a handler that hangs on purpose.
    runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.1)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context).start()
        scheme = "http" if ssl_context is None else "https"
        yield f"{scheme}://127.0.0.1:{int(runner.addresses[0][1])}"
    finally:
        await runner.cleanup()
