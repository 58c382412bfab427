"""A token endpoint that answers whatever a test scripts: statuses, bodies, hangs.

authlib's real server (``authserver.py``) proves the happy paths and refusals; this one
produces the failures a real server rarely does on demand (5xx, malformed JSON, a token
type we cannot use, no answer at all).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import attrs
from aiohttp import web


@attrs.frozen
class Reply:
    status: int = 200
    body: Any = None  # dict/list: JSON; str: sent as is
    headers: dict[str, str] = attrs.field(factory=dict)


@attrs.frozen
class NoAnswer:
    """Never answers; ``before`` runs first (a test moves its virtual clock there)."""

    before: Callable[[], None] | None = None


def token(value: str, expires_in: Any = 3600, token_type: str = "Bearer") -> Reply:
    return Reply(200, {"access_token": value, "token_type": token_type, "expires_in": expires_in})


@attrs.define
class ScriptedEndpoint:
    replies: list[Reply | NoAnswer] = attrs.field(factory=list)
    default: Reply | NoAnswer = Reply(500, {"error": "server_error"})
    forms: list[dict[str, str]] = attrs.field(factory=list)
    url: str = ""
    _release: asyncio.Event = attrs.field(factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.forms.append({k: str(v) for k, v in (await request.post()).items()})
        reply = self.replies.pop(0) if self.replies else self.default
        if isinstance(reply, NoAnswer):
            if reply.before is not None:
                reply.before()
            await self._release.wait()
            return web.Response(status=504)
        body = reply.body
        text = body if isinstance(body, str) else json.dumps(body)
        headers = {"Content-Type": "application/json", **reply.headers}
        return web.Response(status=reply.status, text=text, headers=headers)


@asynccontextmanager
async def scripted(endpoint: ScriptedEndpoint) -> AsyncIterator[ScriptedEndpoint]:
    app = web.Application()
    app.router.add_post("/token", endpoint.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    endpoint.url = f"http://127.0.0.1:{runner.addresses[0][1]}/token"
    try:
        yield endpoint
    finally:
        endpoint._release.set()
        await runner.cleanup()
