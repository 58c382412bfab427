"""Streams the simulator does not produce, from a hand-written server on loopback
(integration: real sockets, the real clock, short timeouts): cache counts across
``message_start`` and ``message_delta``, an SDK-style root ``base_url``, and an error event
that arrives before any text, which the pipeline may still retry."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

import pytest
from aiohttp import web
from patchwire.hub import Hub
from patchwire.plugins import PluginHost

pytestmark = pytest.mark.integration

Frames = Sequence[tuple[str, Mapping[str, Any]]]

START = {
    "type": "message_start",
    "message": {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "content": [],
        "model": "claude-haiku-4-5",
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {
            "input_tokens": 10,
            "cache_creation_input_tokens": 5,
            "cache_read_input_tokens": 20,
            "output_tokens": 1,
        },
    },
}


def delta(text: str) -> tuple[str, Mapping[str, Any]]:
    return (
        "content_block_delta",
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}},
    )


WHOLE: Frames = (
    ("message_start", START),
    ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {}}),
    ("ping", {"type": "ping"}),
    delta("Hel"),
    delta("lo"),
    ("content_block_stop", {"type": "content_block_stop", "index": 0}),
    (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": 4},
        },
    ),
    (
        "message_delta",
        {"type": "message_delta", "delta": {}, "usage": {"output_tokens": 7}},
    ),
    ("message_stop", {"type": "message_stop"}),
)
OVERLOADED: Frames = (
    ("message_start", START),
    ("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
)


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, list[web.Request], Callable[[Frames], None]]]:
    """A server answering each POST /v1/messages with the next queued list of SSE frames."""
    seen: list[web.Request] = []
    queue: list[Frames] = []

    async def messages(request: web.Request) -> web.StreamResponse:
        seen.append(request)
        response = web.StreamResponse(
            headers={"content-type": "text/event-stream", "request-id": f"req_{len(seen)}"}
        )
        await response.prepare(request)
        for name, data in queue.pop(0):
            await response.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/v1/messages", messages)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", seen, queue.append
    finally:
        await runner.cleanup()


def hub(root: str, host: PluginHost) -> Hub:
    table = {
        "base_url": root,  # the SDK's form: no /v1
        "api_key": "env:ANTHROPIC_SIM_KEY",
        "timeout": 2,
        "retry": {"max_attempts": 2, "initial": 0.01, "cap": 0.02},
    }
    return Hub.from_dict({"connectors": {"anthropic": table}}, host=host)


async def test_stream_usage_keeps_cache_counts_and_the_latest_cumulative_output(
    server: tuple[str, list[web.Request], Callable[[Frames], None]],
    anthropic_host: PluginHost,
    key: str,
) -> None:
    root, seen, push = server
    push(WHOLE)
    async with hub(root, anthropic_host) as h:
        chunks = [c async for c in h.model("anthropic:claude-haiku-4-5").stream("hi")]
    assert [c.text for c in chunks] == ["Hel", "lo", ""]
    usage = chunks[-1].usage
    assert usage is not None and chunks[-1].finish_reason == "stop"
    assert (usage.input_tokens, usage.cached_input_tokens) == (35, 20)
    assert (usage.cache_creation_input_tokens, usage.output_tokens) == (5, 7)
    sent = seen[0].headers
    assert sent["x-api-key"] == key and "authorization" not in sent
    assert sent["anthropic-version"] == "2026-10-21"


async def test_an_error_event_before_any_text_is_retried(
    server: tuple[str, list[web.Request], Callable[[Frames], None]],
    anthropic_host: PluginHost,
    key: str,
) -> None:
    """Nothing reached the caller yet, so the overloaded stream may be tried again."""
    root, seen, push = server
    push(OVERLOADED)
    push(WHOLE)
    async with hub(root, anthropic_host) as h:
        text = "".join([c.text async for c in h.model("anthropic:claude-haiku-4-5").stream("hi")])
    assert text == "Hello" and len(seen) == 2
