"""A stream request answered without an event stream (issue 14 item 4), for every provider
that streams: real loopback servers (integration: real sockets and the real clock, short
timeouts), since what is checked is the HTTP content type a real server sends.

Many OpenAI-compatible servers and mock servers ignore ``stream: true`` and answer with a
plain JSON completion: that is delivered as a one-chunk stream, with its usage and finish
reason, after exactly one request (retrying would bill the same completion again). Any
other content type (an HTML page from a proxy) is an ``integration`` error, also after one
request.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import attrs
import pytest
from aiohttp import web
from patchwire.errors import Category, PatchwireError
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire_anthropic.plugin import AnthropicPlugin
from patchwire_gemini.plugin import GeminiPlugin
from patchwire_openai.plugin import OpenAIPlugin

pytestmark = pytest.mark.integration


@attrs.frozen
class Provider:
    name: str
    model: str
    base_path: str  # appended to the server's root to make base_url
    env: str
    completion: Mapping[str, Any]


PROVIDERS = (
    Provider(
        "openai",
        "gpt-4o-mini",
        "/v1",
        "OPENAI_API_KEY",
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": "gpt-4o-mini",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Hello there"},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
        },
    ),
    Provider(
        "anthropic",
        "claude-haiku-4-5",
        "",
        "ANTHROPIC_API_KEY",
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-haiku-4-5",
            "content": [{"type": "text", "text": "Hello there"}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 5, "output_tokens": 2},
        },
    ),
    Provider(
        "gemini",
        "gemini-2.5-flash",
        "/v1beta",
        "GEMINI_API_KEY",
        {
            "candidates": [
                {
                    "content": {"role": "model", "parts": [{"text": "Hello there"}]},
                    "finishReason": "STOP",
                    "index": 0,
                }
            ],
            "usageMetadata": {
                "promptTokenCount": 5,
                "candidatesTokenCount": 2,
                "totalTokenCount": 7,
            },
            "responseId": "resp-1",
        },
    ),
)


@attrs.define
class Server:
    root: str = ""
    answer: tuple[str, bytes] = ("application/json", b"{}")
    requests: list[Mapping[str, Any]] = attrs.field(factory=list)


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    """Answers every POST with ``state.answer`` (content type, body) and status 200."""
    state = Server()

    async def answer(request: web.Request) -> web.Response:
        state.requests.append(await request.json())
        content_type, body = state.answer
        return web.Response(body=body, headers={"Content-Type": content_type})

    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.root = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield state
    finally:
        await runner.cleanup()


def make_hub(provider: Provider, server: Server, monkeypatch: pytest.MonkeyPatch) -> Hub:
    monkeypatch.setenv(provider.env, "sk-test-not-a-real-key-0000")
    host = PluginHost(load_entry_points=False)
    for plugin, name in (
        (OpenAIPlugin(), "openai"),
        (AnthropicPlugin(), "anthropic"),
        (GeminiPlugin(), "gemini"),
    ):
        host.register(plugin, name)
    table = {
        "base_url": server.root + provider.base_path,
        "timeout": 5,
        "retry": {"max_attempts": 4, "initial": 0.01, "cap": 0.02},
    }
    return Hub.from_dict({"connectors": {provider.name: table}}, host=host)


@pytest.mark.parametrize("provider", PROVIDERS, ids=lambda p: p.name)
async def test_a_json_completion_to_a_stream_request_is_a_one_chunk_stream_sent_once(
    provider: Provider, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.answer = ("application/json; charset=utf-8", json.dumps(provider.completion).encode())
    async with make_hub(provider, server, monkeypatch) as hub:
        chunks = [c async for c in hub.model(f"{provider.name}:{provider.model}").stream("Hi")]
        usage = hub.model(f"{provider.name}:{provider.model}").usage()
    assert len(server.requests) == 1
    assert [c.text for c in chunks] == ["Hello there"]
    last = chunks[-1]
    assert last.finish_reason is not None and last.usage is not None
    assert (last.usage.input_tokens, last.usage.output_tokens) == (5, 2)
    assert usage.succeeded == 1 and usage.input_tokens == 5 and usage.output_tokens == 2


@pytest.mark.parametrize("provider", PROVIDERS, ids=lambda p: p.name)
async def test_a_non_event_stream_answer_to_a_stream_request_is_integration_not_retried(
    provider: Provider, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.answer = ("text/html", b"<html><body>Welcome to our proxy</body></html>")
    async with make_hub(provider, server, monkeypatch) as hub:
        with pytest.raises(PatchwireError) as caught:
            async for _ in hub.model(f"{provider.name}:{provider.model}").stream("Hi"):
                pass
    assert caught.value.category is Category.INTEGRATION
    assert "text/html" in caught.value.message and "sk-test" not in str(caught.value)
    assert len(server.requests) == 1
