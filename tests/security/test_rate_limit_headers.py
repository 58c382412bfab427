"""Attack: a server reports rate limits no provider could have (a 400-digit limit, ``inf``,
``nan``, an endless reset) in the headers every reply carries.

The limiter matched a reported limit to its nearest window through the logarithm of their
ratio, so a limit that read as infinite raised ``ValueError`` in the reply's handling: a
good reply became a failed call, on every reply, while the limiter was
configured. Core now takes such a count or reset as unknown wherever a connector's report
reaches the limiter, so the call succeeds and the limiter keeps its own windows. The
servers are real aiohttp apps on loopback driven by the real openai and anthropic
connectors (integration: real sockets, real time).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest
from aiohttp import web
from patchwire.hub import Hub
from patchwire.limiter import RateLimitInfo
from patchwire.limiter.adaptive import Adaptive, AdaptivePolicy
from patchwire.limiter.limits import Kind, Window
from patchwire.testing.loopback import serve_app

HUGE = "9" * 400  # float() reads it as inf
LIMITS = {"requests_per_minute": 600, "tokens_per_minute": 100_000}

OPENAI_HEADERS = [
    {"x-ratelimit-limit-tokens": HUGE, "x-ratelimit-remaining-tokens": "10"},
    {"x-ratelimit-limit-requests": HUGE, "x-ratelimit-remaining-requests": HUGE},
    {
        "x-ratelimit-limit-tokens": "1000",
        "x-ratelimit-remaining-tokens": "10",
        "x-ratelimit-reset-tokens": f"{HUGE}h",
    },
]
ANTHROPIC_HEADERS = [
    {"anthropic-ratelimit-tokens-limit": "inf", "anthropic-ratelimit-tokens-remaining": "5"},
    {"anthropic-ratelimit-requests-limit": HUGE, "anthropic-ratelimit-requests-remaining": "inf"},
    {
        "anthropic-ratelimit-input-tokens-limit": "1e999",
        "anthropic-ratelimit-input-tokens-remaining": "nan",
    },
]


def _openai(headers: dict[str, str]) -> Callable[[web.Request], object]:
    async def chat(request: web.Request) -> web.Response:
        body = await request.json()
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
                "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
            },
            headers=headers,
        )

    return chat


def _anthropic(headers: dict[str, str]) -> Callable[[web.Request], object]:
    async def messages(request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response(
            {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": body["model"],
                "content": [{"type": "text", "text": "hi"}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": 3, "output_tokens": 1},
            },
            headers=headers,
        )

    return messages


@pytest.fixture(autouse=True)
def _keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PW_TEST_OPENAI_KEY", "sk-test-rate-limit-headers")
    monkeypatch.setenv("PW_TEST_ANTHROPIC_KEY", "sk-ant-test-rate-limit-headers")


# (connector table, route the server answers on, its handler, model) per provider
PROVIDERS = {
    "openai": ("/v1", "/v1/chat/completions", _openai, "gpt-4o-mini", "PW_TEST_OPENAI_KEY"),
    "anthropic": ("", "/v1/messages", _anthropic, "claude-haiku-4-5", "PW_TEST_ANTHROPIC_KEY"),
}
CASES = [("openai", h) for h in OPENAI_HEADERS] + [("anthropic", h) for h in ANTHROPIC_HEADERS]


@pytest.mark.integration
@pytest.mark.parametrize(("kind", "headers"), CASES)
async def test_absurd_rate_limit_headers_leave_the_call_and_the_limiter_whole(
    kind: str, headers: dict[str, str]
) -> None:
    prefix, route, handler, model, key = PROVIDERS[kind]
    app = web.Application()
    app.router.add_post(route, handler(headers))  # type: ignore[arg-type]
    async with serve_app(app) as url:
        table = {"type": kind, "base_url": url + prefix, "api_key": f"env:{key}", "limits": LIMITS}
        async with Hub.from_dict({"connectors": {"c": table}}) as hub:
            for _ in range(3):  # the limiter has matched a window after the first reply
                reply = await hub.model(f"c:{model}").complete("hello")
                assert reply.text == "hi"


@pytest.mark.integration
async def test_a_count_with_a_control_character_is_unknown_not_an_exception() -> None:
    """'5\\x1f': str.strip strips the unit separator, float() does not, so the count passed
    the check on its stripped text and raised ValueError when read whole: a good reply became
    an integration error. aiohttp's server
    will not send it; its client takes it, so the server here writes its bytes itself."""
    reply = json.dumps(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
        }
    ).encode()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        await reader.readexactly(length)
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"x-ratelimit-limit-tokens: 1000\r\nx-ratelimit-remaining-tokens: 5\x1f\r\n"
            b"Connection: close\r\nContent-Length: "
            + str(len(reply)).encode()
            + b"\r\n\r\n"
            + reply
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    table = {
        "type": "openai",
        "base_url": f"http://127.0.0.1:{port}/v1",
        "api_key": "env:PW_TEST_OPENAI_KEY",
        "limits": LIMITS,
    }
    try:
        async with Hub.from_dict({"connectors": {"c": table}}) as hub:
            assert (await hub.model("c:gpt-4o-mini").complete("hello")).text == "hi"
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize(
    "info",
    [
        RateLimitInfo(tokens_limit=float("inf"), tokens_remaining=10.0),
        RateLimitInfo(tokens_limit=float("nan"), tokens_remaining=10.0),
        RateLimitInfo(tokens_limit=1000.0, tokens_remaining=float("inf")),
        RateLimitInfo(tokens_limit=1000.0, tokens_remaining=float("nan")),
        RateLimitInfo(tokens_limit=1000.0, tokens_remaining=10.0, tokens_reset=float("inf")),
        RateLimitInfo(tokens_limit=1000.0, tokens_remaining=10.0, tokens_reset=float("nan")),
    ],
)
def test_a_report_that_is_not_finite_sets_no_ceiling_and_no_endless_pace(
    info: RateLimitInfo,
) -> None:
    """Any connector's report, not only the two built in: core is where it is checked."""
    adaptive = Adaptive([Window.of("tpm", Kind.TOKENS, 1000.0, 60.0)], AdaptivePolicy())
    ceilings = adaptive.observe(info, now=0.0)
    assert all(0 <= level < float("inf") for level in ceilings.values())
    paces = [pace for pace in adaptive.paces if pace is not None]
    assert all(rate > 0 and until < float("inf") for rate, until in paces)
