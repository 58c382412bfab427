"""Issue 14 item 7: a bad argument is an InvalidRequestError naming the argument and what is
accepted (also a TypeError/ValueError, for code written against those), and nothing is sent."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from patchwire.arguments import InvalidArgument
from patchwire.errors import Category, InvalidRequestError
from patchwire.hub import Hub
from patchwire.model import Model, Tool
from patchwire.testing.fake import FakeConnector
from patchwire.testing.loopback import serve_app

Call = Callable[[Model, Tool], Awaitable[Any]]


async def _drain(iterator: AsyncIterator[Any]) -> None:
    async for _ in iterator:
        pass


# (what is wrong, the call, a word the message must contain)
BAD_CALLS: list[tuple[str, Call, str]] = [
    ("prompt None", lambda m, t: m.complete(None), "prompt"),
    ("prompt int", lambda m, t: m.complete(123), "prompt"),
    ("prompt bytes", lambda m, t: m.complete(b"x"), "prompt"),
    ("prompt empty list", lambda m, t: m.complete([]), "empty"),
    ("unknown role", lambda m, t: m.complete([{"role": "wizard", "content": "hi"}]), "role"),
    ("no role", lambda m, t: m.complete([{"content": "hi"}]), "role"),
    ("no content", lambda m, t: m.complete([{"role": "user"}]), "content"),
    ("content None", lambda m, t: m.complete([{"role": "user", "content": None}]), "content"),
    ("content int", lambda m, t: m.complete([{"role": "user", "content": 5}]), "content"),
    ("item not a message", lambda m, t: m.complete(["hi", 3]), "message #1"),
    ("timeout -1", lambda m, t: m.complete("hi", timeout=-1), "timeout"),
    ("timeout 0", lambda m, t: m.complete("hi", timeout=0), "timeout"),
    ("timeout str", lambda m, t: m.complete("hi", timeout="3"), "timeout"),
    ("timeout nan", lambda m, t: m.complete("hi", timeout=math.nan), "timeout"),
    ("timeout inf", lambda m, t: m.complete("hi", timeout=math.inf), "timeout"),
    ("timeout bool", lambda m, t: m.complete("hi", timeout=True), "timeout"),
    ("priority str", lambda m, t: m.complete("hi", priority="high"), "priority"),
    ("cache str", lambda m, t: m.complete("hi", cache="yes"), "cache"),
    ("stream prompt None", lambda m, t: _drain(m.stream(None)), "prompt"),
    ("stream timeout 0", lambda m, t: _drain(m.stream("hi", timeout=0)), "timeout"),
    ("embed None", lambda m, t: m.embed(None), "embed"),
    ("embed list", lambda m, t: m.embed(["a"]), "embed_many"),
    ("embed timeout", lambda m, t: m.embed("a", timeout=-1), "timeout"),
    ("embed_many [None]", lambda m, t: m.embed_many([None]), "item #1"),
    ("embed_many one bad", lambda m, t: m.embed_many(["a", "b", None]), "item #3"),
    ("embed_many str", lambda m, t: m.embed_many("abc"), "embed"),
    ("embed_many None", lambda m, t: m.embed_many(None), "embed_many"),
    ("embed_many timeout", lambda m, t: m.embed_many(["a"], timeout=0), "timeout"),
    ("tool operation None", lambda m, t: t.call(None), "operation"),
    ("tool timeout", lambda m, t: t.call("echo", timeout="3"), "timeout"),
    ("tool list timeout", lambda m, t: t.list(timeout=-1), "timeout"),
]


@pytest.mark.parametrize(("case", "call", "word"), BAD_CALLS, ids=[c[0] for c in BAD_CALLS])
async def test_a_bad_argument_is_an_invalid_request_naming_it_and_sends_nothing(
    plugin_host, virtual_clock, case, call, word
):
    FakeConnector.scripts.clear()
    hub = Hub.from_dict({"connectors": {"fake": {}}}, host=plugin_host, clock=virtual_clock)
    async with hub:
        with pytest.raises(InvalidRequestError) as info:
            await call(hub.model("fake:m"), hub.tool("fake"))
        script = FakeConnector.scripts.get("fake")
    error = info.value
    assert error.category is Category.INVALID_REQUEST
    assert isinstance(error, InvalidArgument) and isinstance(error, TypeError | ValueError)
    assert word in error.message
    assert script is None or script.calls == []


async def test_content_may_be_a_sequence_of_parts(plugin_host, virtual_clock):
    """Only what is clearly wrong is refused: a list as content goes on to the message type."""
    hub = Hub.from_dict({"connectors": {"fake": {}}}, host=plugin_host, clock=virtual_clock)
    async with hub:
        reply = await hub.model("fake:m").complete([{"role": "user", "content": ["hi"]}])
    assert reply.text


@pytest.fixture
async def counting_server() -> AsyncIterator[tuple[str, list[str]]]:
    seen: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        seen.append(request.path)
        if request.path.endswith("/embeddings"):
            return web.json_response(
                {"data": [{"index": 0, "embedding": [0.5]}], "usage": {"prompt_tokens": 1}}
            )
        return web.json_response(
            {
                "id": "c",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "ok"},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1},
            }
        )

    app = web.Application()
    app.router.add_post("/v1/chat/completions", answer)
    app.router.add_post("/v1/embeddings", answer)
    async with serve_app(app) as url:
        yield f"{url}/v1", seen


@pytest.mark.integration
async def test_no_bad_call_reaches_a_real_server(counting_server, monkeypatch):
    """Real openai connector against a loopback server: every refused call sends nothing."""
    url, seen = counting_server
    monkeypatch.setenv("PW_ARGS_KEY", "sk-args-test")
    config = {
        "connectors": {"oa": {"type": "openai", "base_url": url, "api_key": "env:PW_ARGS_KEY"}}
    }
    async with Hub.from_dict(config) as hub:
        model = hub.model("oa:gpt-4o-mini")
        for case, call, _ in BAD_CALLS:
            if case.startswith("tool"):
                continue
            with pytest.raises(InvalidRequestError):
                await call(model, None)  # type: ignore[arg-type]
        assert seen == []
        await model.complete("hi")
        await model.embed("hi")
    assert len(seen) == 2
