"""The user's part of OAuth for CLIs and notebooks: a browser and a loopback redirect.

``loopback_authorization()`` gives an :class:`~patchwire_mcp.Authorization` whose
``redirect`` starts a one-shot HTTP listener on 127.0.0.1 and opens the authorization page
(``webbrowser.open`` unless ``open_url`` is given, e.g. ``print`` in a notebook), and whose
``callback`` waits for the authorization server to send the browser back there. The
connector's ``redirect_uri`` must be ``http://127.0.0.1:PORT/PATH`` with the same port and
path. A web application passes its own redirect and callback instead.
"""

from __future__ import annotations

import asyncio
import webbrowser
from collections.abc import Awaitable, Callable, Mapping
from urllib.parse import urlsplit

from aiohttp import web

from patchwire_mcp.authorization import Authorization

__all__ = ["LoopbackRedirect", "loopback_authorization"]

_PAGE = "<html><body>patchwire: authorization received; you may close this window.</body></html>"


class LoopbackRedirect:
    """One authorization at a time, answered at ``redirect_uri`` on the loopback address."""

    def __init__(
        self,
        redirect_uri: str,
        *,
        open_url: Callable[[str], object] = webbrowser.open,
        timeout: float = 300.0,
    ) -> None:
        parts = urlsplit(redirect_uri)
        if parts.scheme != "http" or parts.hostname != "127.0.0.1" or parts.port is None:
            raise ValueError(
                f"a loopback redirect_uri is http://127.0.0.1:PORT/PATH, got '{redirect_uri}'"
            )
        self._port = parts.port
        self._path = parts.path or "/"
        self._open_url = open_url
        self._timeout = timeout
        self._answer: asyncio.Future[dict[str, str]] | None = None
        self._runner: web.AppRunner | None = None

    async def redirect(self, url: str) -> None:
        await self._close()
        self._answer = asyncio.get_running_loop().create_future()
        app = web.Application()
        app.router.add_get(self._path, self._receive)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self._port).start()
        self._open_url(url)

    async def _receive(self, request: web.Request) -> web.Response:
        if self._answer is not None and not self._answer.done():
            self._answer.set_result({k: str(v) for k, v in request.query.items()})
        return web.Response(text=_PAGE, content_type="text/html")

    async def callback(self) -> Mapping[str, str]:
        if self._answer is None:
            return {"error": "no authorization was started"}
        try:
            return await asyncio.wait_for(asyncio.shield(self._answer), self._timeout)
        except TimeoutError:
            return {"error": f"no answer at the loopback redirect within {self._timeout:g} s"}
        finally:
            await self._close()

    async def _close(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()


def loopback_authorization(
    redirect_uri: str = "http://127.0.0.1:33418/callback",
    *,
    open_url: Callable[[str], object] = webbrowser.open,
    timeout: float = 300.0,
    subject_token: Callable[[], Awaitable[str]] | None = None,
) -> Authorization:
    """An :class:`Authorization` for a person at this machine (see the module docs)."""
    loopback = LoopbackRedirect(redirect_uri, open_url=open_url, timeout=timeout)
    return Authorization(
        redirect=loopback.redirect, callback=loopback.callback, subject_token=subject_token
    )
