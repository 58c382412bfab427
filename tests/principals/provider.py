"""A loopback stand-in for a provider that accepts users' OAuth tokens.

It speaks just enough of OpenAI's chat wire for the openai connector, and answers as the
user whose live token (issued by the test's authlib server) the request carries, so a
reply says whose token went out. Every request's (user, token) is recorded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

from tests.auth.authserver import AuthServer


class Provider:
    def __init__(self, server: AuthServer) -> None:
        self.server = server
        self.seen: list[tuple[str | None, str]] = []  # (user of the token, the token)
        self.scopes: list[str] = []
        self.url = ""

    async def chat(self, request: web.Request) -> web.Response:
        authorization = request.headers.get("Authorization", "")
        record = self.server.live(authorization.removeprefix("Bearer "))
        self.seen.append((record["user"] if record else None, authorization))
        if record is None:
            return web.json_response(
                {
                    "error": {
                        "message": "invalid token",
                        "type": "invalid_request_error",
                        "code": "invalid_api_key",
                    }
                },
                status=401,
            )
        self.scopes.append(str(record.get("scope") or ""))
        body: dict[str, Any] = await request.json()
        return web.json_response(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "model": body.get("model", "m"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": f"hello {record['user']}"},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
            }
        )


@asynccontextmanager
async def serve_provider(server: AuthServer) -> AsyncIterator[Provider]:
    provider = Provider(server)
    app = web.Application()
    app.router.add_post("/v1/chat/completions", provider.chat)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    provider.url = f"http://127.0.0.1:{runner.addresses[0][1]}/v1"
    try:
        yield provider
    finally:
        await runner.cleanup()
