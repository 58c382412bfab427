"""A small OAuth-protected MCP server for the tests, following the MCP authorization spec's
resource-server side: it serves its protected-resource metadata (RFC 9728) at
``/.well-known/oauth-protected-resource``, answers a request without a live bearer token
with 401 and ``WWW-Authenticate: Bearer resource_metadata="..."``, and otherwise runs the
SDK's streamable-HTTP server (stateless), whose ``whoami`` tool names the user whose token
the request carried. Tokens are checked against the test's authlib server.

Runs in this process under uvicorn on a free 127.0.0.1 port.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from tests.auth.authserver import AuthServer

USER: contextvars.ContextVar[str] = contextvars.ContextVar("mcp_test_user", default="?")


class ProtectedMcp:
    def __init__(self, server: AuthServer) -> None:
        self.server = server
        self.url = ""
        self.seen: list[str | None] = []  # the user of every request's token (None: refused)

    def app(self) -> Any:
        import mcp_types as types
        from mcp.server.lowlevel import Server

        async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
            return types.ListToolsResult(
                tools=[
                    types.Tool(
                        name="whoami",
                        description="the user whose token called",
                        input_schema={"type": "object"},
                    )
                ]
            )

        async def call_tool(ctx: Any, params: Any) -> types.CallToolResult:
            return types.CallToolResult(content=[types.TextContent(text=USER.get())])

        inner: Any = Server(
            "protected", version="1", on_list_tools=list_tools, on_call_tool=call_tool
        ).streamable_http_app(stateless_http=True)
        owner = self

        async def guarded(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                await inner(scope, receive, send)
                return
            if scope["path"] == "/.well-known/oauth-protected-resource":
                body = json.dumps(
                    {
                        "resource": owner.url,
                        "authorization_servers": [owner.server.url.rsplit("/oauth/", 1)[0]],
                        "scopes_supported": ["read", "write"],
                        "bearer_methods_supported": ["header"],
                    }
                ).encode()
                await _answer(send, 200, body, [])
                return
            header = dict(scope["headers"]).get(b"authorization", b"").decode()
            record = owner.server.live(header.removeprefix("Bearer "))
            owner.seen.append(record["user"] if record else None)
            if record is None:
                base = owner.url.rsplit("/mcp", 1)[0]
                challenge = (
                    f'Bearer resource_metadata="{base}/.well-known/oauth-protected-resource"'
                )
                await _answer(
                    send,
                    401,
                    b'{"error": "invalid_token"}',
                    [(b"www-authenticate", challenge.encode())],
                )
                return
            token = USER.set(str(record["user"]))
            try:
                await inner(scope, receive, send)
            finally:
                USER.reset(token)

        return guarded


async def _answer(send: Any, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


@asynccontextmanager
async def serve_mcp(server: AuthServer) -> AsyncIterator[ProtectedMcp]:
    import uvicorn

    protected = ProtectedMcp(server)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    protected.url = f"http://127.0.0.1:{port}/mcp"
    config = uvicorn.Config(protected.app(), log_level="warning", lifespan="on")
    runner = uvicorn.Server(config)
    task = asyncio.get_running_loop().create_task(runner.serve(sockets=[sock]))
    while not runner.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield protected
    finally:
        runner.should_exit = True
        await task
        sock.close()
