"""Issue 19: a completion waits on aiohttp through the connector's ``complete`` and core's
``send`` only. Every coroutine between them is made, and resumed at every suspension, on
every call; the helper layers (``_post``, ``_exchange``, ``_read_capped``) were one each."""

from __future__ import annotations

import asyncio
import types
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from patchwire.hub import Hub
from patchwire.plugins import PluginHost

pytestmark = pytest.mark.integration  # a real loopback server

REPLY = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "model": "gpt-4o-mini",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}


class Held:
    """A chat endpoint that answers only once the test lets it."""

    def __init__(self) -> None:
        self.arrived = asyncio.Event()
        self.gate = asyncio.Event()

    async def chat(self, request: web.Request) -> web.Response:
        await request.read()
        self.arrived.set()
        await self.gate.wait()
        return web.json_response(REPLY)


@pytest.fixture
async def held() -> AsyncIterator[tuple[Held, str]]:
    server = Held()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", server.chat)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield server, f"http://127.0.0.1:{port}/v1"
    finally:
        server.gate.set()
        await runner.cleanup()


def _ours(code: types.CodeType) -> bool:
    path = code.co_filename.replace("\\", "/")
    return "/patchwire_openai/" in path or path.endswith("/patchwire/http.py")


async def test_a_completion_waits_on_aiohttp_through_complete_and_send(
    held: tuple[Held, str], openai_host: PluginHost, sim_key: str
) -> None:
    server, base_url = held
    connector = {"base_url": base_url, "api_key": "env:OPENAI_SIM_KEY", "cache": {"ttl": 0}}
    hub = Hub.from_dict({"connectors": {"openai": connector}}, host=openai_host)
    async with hub:
        task = asyncio.ensure_future(hub.model("openai:gpt-4o-mini").complete("hi"))
        await asyncio.wait_for(server.arrived.wait(), 10)
        chain: list[str] = []
        coro: Any = task.get_coro()
        while coro is not None:
            code = getattr(coro, "cr_code", None)
            if code is not None and _ours(code):
                chain.append(code.co_qualname)
            coro = getattr(coro, "cr_await", None)
        server.gate.set()
        reply = await asyncio.wait_for(task, 10)
    assert reply.text == "ok"
    assert chain == ["OpenAIConnector.complete", "send"]
