"""Attack: a server in OpenAI's format reports absurd token counts (issue 13, item 7).

A usage of ``completion_tokens = 10**30`` used to be taken as is and inflated every token
and cost metric. Core now checks every count where connector results enter the pipeline,
so each call ends as an ``integration`` error naming the field, and the metrics stay clean.
The server is a real aiohttp app on loopback driven by the real openai connector
(integration: real sockets, real time).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import attrs
import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st
from patchwire.errors import Category, IntegrationError, PatchwireError
from patchwire.hub import Hub
from patchwire.testing.loopback import serve_app
from patchwire.types import Usage
from patchwire.wire_bounds import MAX_TOKENS_PER_CALL, check_usage

HUGE = 10**30

Serve = Callable[[dict[str, Any]], Awaitable[tuple[str, list[str]]]]


def _app(usage: dict[str, Any], seen: list[str]) -> web.Application:
    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        seen.append(request.path)
        if not body.get("stream"):
            return web.json_response(
                {
                    "id": "chatcmpl-1",
                    "object": "chat.completion",
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": "hi"},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": usage,
                }
            )
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        chunks = [
            {"id": "c", "choices": [{"index": 0, "delta": {"content": "hi"}}]},
            {"id": "c", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
            {"id": "c", "choices": [], "usage": usage},
        ]
        for chunk in chunks:
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def embeddings(request: web.Request) -> web.Response:
        seen.append(request.path)
        return web.json_response(
            {
                "object": "list",
                "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}],
                "model": "e",
                "usage": {"prompt_tokens": usage["prompt_tokens"], "total_tokens": HUGE},
            }
        )

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_post("/v1/embeddings", embeddings)
    return app


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    async with contextlib.AsyncExitStack() as stack:

        async def start(usage: dict[str, Any]) -> tuple[str, list[str]]:
            seen: list[str] = []
            url = await stack.enter_async_context(serve_app(_app(usage, seen)))
            return f"{url}/v1", seen

        yield start


def _hub(url: str) -> Hub:
    return Hub.from_dict(
        {
            "connectors": {
                "oa": {
                    "type": "openai",
                    "base_url": url,
                    "api_key": "env:PW_TEST_OPENAI_KEY",
                    "retry": {"max_attempts": 3, "initial": 0.01, "cap": 0.02},
                    "batch": {"linger": 0},
                }
            }
        }
    )


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PW_TEST_OPENAI_KEY", "sk-test-wire-bounds")


def _assert_refused(error: PatchwireError, field: str, seen: list[str]) -> None:
    assert error.category is Category.INTEGRATION
    assert field in error.message and str(HUGE) not in error.message
    # Integration errors are not retried: one request reached the server.
    assert len(seen) == 1


@pytest.mark.integration
async def test_huge_completion_tokens_are_an_integration_error_and_count_nowhere(serve):
    url, seen = await serve({"prompt_tokens": 3, "completion_tokens": HUGE, "total_tokens": HUGE})
    async with _hub(url) as hub:
        with pytest.raises(PatchwireError) as info:
            await hub.model("oa:gpt-4o-mini").complete("hello")
        snapshot = hub.metrics()
    _assert_refused(info.value, "output_tokens", seen)
    assert all(row.output_tokens < MAX_TOKENS_PER_CALL for row in snapshot.connectors)
    assert all(row.input_tokens < MAX_TOKENS_PER_CALL for row in snapshot.connectors)


@pytest.mark.integration
async def test_huge_usage_in_a_streams_last_chunk_ends_the_stream_as_integration(serve):
    url, seen = await serve({"prompt_tokens": HUGE, "completion_tokens": 1, "total_tokens": HUGE})
    async with _hub(url) as hub:
        with pytest.raises(PatchwireError) as info:
            async for _ in hub.model("oa:gpt-4o-mini").stream("hello"):
                pass
        snapshot = hub.metrics()
    _assert_refused(info.value, "input_tokens", seen)
    assert all(row.input_tokens < MAX_TOKENS_PER_CALL for row in snapshot.connectors)


@pytest.mark.integration
async def test_huge_embedding_usage_is_an_integration_error(serve):
    url, seen = await serve({"prompt_tokens": HUGE, "completion_tokens": 0, "total_tokens": HUGE})
    async with _hub(url) as hub:
        with pytest.raises(PatchwireError) as info:
            await hub.model("oa:text-embedding-3-small").embed("hello")
    _assert_refused(info.value, "input_tokens", seen)


@pytest.mark.integration
async def test_plausible_usage_still_passes(serve):
    url, _ = await serve({"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8})
    async with _hub(url) as hub:
        reply = await hub.model("oa:gpt-4o-mini").complete("hello")
    assert reply.usage.output_tokens == 5


_COUNT = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40),
    st.integers(min_value=0, max_value=MAX_TOKENS_PER_CALL),
)


@given(
    counts=st.fixed_dictionaries({f.name: _COUNT for f in attrs.fields(Usage)}),
)
def test_usage_is_accepted_iff_every_count_is_within_zero_and_a_billion(counts):
    usage = Usage(**counts)
    order = [f.name for f in attrs.fields(Usage)]
    bad = [name for name in order if not 0 <= counts[name] <= MAX_TOKENS_PER_CALL]
    if not bad:
        assert check_usage(usage) is usage
        return
    with pytest.raises(IntegrationError) as info:
        check_usage(usage)
    assert bad[0] in info.value.message
    assert len(info.value.message) < 400


class _Count(int):
    """An int subclass, as a decoder might hand over: a count like any other."""


@pytest.mark.parametrize(
    ("value", "accepted"),
    [(_Count(7), True), (True, False), (7.0, False), ("7", False), (None, False)],
)
def test_only_integers_that_are_not_bools_pass_whatever_their_class(value, accepted):
    usage = Usage(input_tokens=3, output_tokens=value)
    if accepted:
        assert check_usage(usage) is usage
        return
    with pytest.raises(IntegrationError, match="output_tokens"):
        check_usage(usage)
