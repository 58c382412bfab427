"""A handshake-era MCP server over streamable HTTP in a few lines of aiohttp, for tests that
must see every JSON-RPC method sent (``methods``) or put something in front of it (``guard``:
answer a request itself, as an OAuth-protected resource does, or let it through). It refuses
``server/discover`` as a server of that era does; its tools are ``echo``, ``whoami`` (the
``user`` the guard put on the request) and ``wait`` (answers once the client cancels it,
recording the cancelled request ids in ``cancelled``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

Guard = Callable[[web.Request, str], Awaitable[web.Response | None]]

WHOAMI = {"name": "whoami", "inputSchema": {"type": "object"}}
WAIT = {"name": "wait", "inputSchema": {"type": "object"}}
TOOL = {
    "name": "echo",
    "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}},
}


class LegacyServer:
    def __init__(self, *, refuse: bool = False, guard: Guard | None = None) -> None:
        self.refuse = refuse
        self.guard = guard
        self.methods: list[str] = []
        #: a session the server has forgotten (a restart on its side): answered 404
        self.forgotten: set[str] = set()
        self.sessions = 0
        self.waiting: list[Any] = []
        self.cancelled: list[Any] = []
        self.cancel = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        method = body.get("method", "")
        self.methods.append(method)
        if self.refuse:
            return web.Response(
                status=401, text="bad token", headers={"WWW-Authenticate": 'Bearer realm="mcp"'}
            )
        if self.guard is not None:
            answered = await self.guard(request, method)
            if answered is not None:
                return answered
        session = request.headers.get("Mcp-Session-Id")
        if session in self.forgotten:
            return web.Response(status=404, text="no such session")
        if "id" not in body:
            if method == "notifications/cancelled":
                self.cancelled.append(body["params"]["requestId"])
                self.cancel.set()
            return web.Response(status=202)
        if method == "initialize":
            self.sessions += 1
            result: dict[str, Any] = {
                "protocolVersion": "2025-06-18",
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "legacy", "version": "1"},
            }
            headers = {"Mcp-Session-Id": f"s{self.sessions}"}
            return web.json_response(
                {"jsonrpc": "2.0", "id": body["id"], "result": result}, headers=headers
            )
        if method == "tools/list":
            result = {"tools": [TOOL, WHOAMI, WAIT]}
        elif method == "tools/call" and body["params"]["name"] == "wait":
            self.waiting.append(body["id"])
            await asyncio.wait_for(self.cancel.wait(), 30)
            result = {"content": [{"type": "text", "text": "cancelled"}]}
        elif method == "tools/call" and body["params"]["name"] == "whoami":
            result = {"content": [{"type": "text", "text": str(request.get("user"))}]}
        elif method == "tools/call":
            text = body["params"]["arguments"].get("text", "")
            result = {"content": [{"type": "text", "text": text}]}
        else:
            error = {"code": -32601, "message": f"method not found: {method}"}
            return web.json_response({"jsonrpc": "2.0", "id": body["id"], "error": error})
        return web.json_response({"jsonrpc": "2.0", "id": body["id"], "result": result})

    async def other(self, request: web.Request) -> web.Response:
        # No server-sent event stream, no session deletion: a minimal server.
        return web.Response(status=405)


@asynccontextmanager
async def serving(
    server: LegacyServer, routes: Callable[[web.Application], None] = lambda app: None
) -> AsyncIterator[str]:
    """Serve on 127.0.0.1 (a free port); yields the MCP endpoint's URL. ``routes`` adds more
    (well-known metadata, an authorization server) to the same app."""
    app = web.Application()
    routes(app)
    app.router.add_post("/mcp", server.handle)
    app.router.add_get("/mcp", server.other)
    app.router.add_delete("/mcp", server.other)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/mcp"
    finally:
        await runner.cleanup()
