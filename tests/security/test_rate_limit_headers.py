"""Attack: a server reports rate limits no provider could have (a 400-digit limit, ``inf``,
``nan``, an endless reset) in the headers every reply carries.

The limiter matched a reported limit to its nearest window through the logarithm of their
ratio, so a limit that read as infinite raised ``ValueError`` out of the reply's handling:
the call ended in an unclassified exception, on every reply, while the limiter was
configured. Core now takes such a count or reset as unknown wherever a connector's report
reaches the limiter, so the call succeeds and the limiter keeps its own windows. The
servers are real aiohttp apps on loopback driven by the real openai and anthropic
connectors (integration: real sockets, real time).
"""

from __future__ import annotations

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
