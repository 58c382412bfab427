"""Protocol negotiation without noise: one probe per server, errors that name the request
actually sent, and a refused probe that is an auth error after one request.

The server is a few lines of aiohttp on a loopback port that record every JSON-RPC method
it receives; it speaks the handshake era (``initialize``) and refuses ``server/discover``
as a server of that era does. Integration tests: real HTTP on the real clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import web
from patchwire.errors import AuthError
from patchwire.hub import Hub

pytestmark = pytest.mark.integration

TOOL = {
    "name": "echo",
    "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}},
}


class LegacyServer:
    def __init__(self, *, refuse: bool = False) -> None:
        self.refuse = refuse
        self.methods: list[str] = []
        #: a session the server has forgotten (a restart on its side): answered 404
        self.forgotten: set[str] = set()
        self.sessions = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        method = body.get("method", "")
        self.methods.append(method)
        if self.refuse:
            return web.Response(
                status=401, text="bad token", headers={"WWW-Authenticate": 'Bearer realm="mcp"'}
            )
        session = request.headers.get("Mcp-Session-Id")
        if session in self.forgotten:
            return web.Response(status=404, text="no such session")
        if "id" not in body:
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
            result = {"tools": [TOOL]}
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
async def serving(server: LegacyServer) -> AsyncIterator[str]:
    app = web.Application()
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


async def test_a_refused_probe_is_one_request_and_an_auth_error_naming_it(
    make_hub: Callable[..., Hub],
) -> None:
    server = LegacyServer(refuse=True)
    async with serving(server) as url:
        hub = make_hub({"srv": {"type": "mcp", "url": url, "retry": {"max_attempts": 1}}})
        with pytest.raises(AuthError) as refused:
            await hub.tool("srv").call("echo", text="x")
    assert server.methods == ["server/discover"]
    assert refused.value.status == 401
    assert "server/discover" in refused.value.message and "initialize" not in refused.value.message


async def test_a_refused_handshake_names_initialize_alone(make_hub: Callable[..., Hub]) -> None:
    server = LegacyServer(refuse=True)
    async with serving(server) as url:
        hub = make_hub(
            {"srv": {"type": "mcp", "url": url, "protocol": "legacy", "retry": {"max_attempts": 1}}}
        )
        with pytest.raises(AuthError) as refused:
            await hub.tool("srv").call("echo", text="x")
    assert server.methods == ["initialize"]
    assert "initialize" in refused.value.message and "server/discover" not in refused.value.message


async def test_the_era_is_probed_once_per_server_and_remembered_across_restarts(
    make_hub: Callable[..., Hub],
) -> None:
    server = LegacyServer()
    async with serving(server) as url:
        hub = make_hub({"srv": {"type": "mcp", "url": url}})
        tool = hub.tool("srv")
        assert (await tool.call("echo", text="one")).text == "one"
        # The server forgets the session: the connector starts a new one and calls again.
        server.forgotten.add("s1")
        assert (await tool.call("echo", text="two")).text == "two"
    assert server.methods.count("server/discover") == 1
    assert server.methods.count("initialize") == 2
