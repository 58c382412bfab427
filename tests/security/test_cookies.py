"""Attack: a server sets a cookie, and the hub's shared session hands it to another server.

Every connector shares the hub's HTTP session. With a cookie jar, a cookie one provider (or
a hostile server it redirects to) sets would go to every other server of that host —
cookies ignore ports — so one connector's session cookie would reach another's. Model and
tool APIs authenticate with headers, never cookies, so the hub's session keeps none.
Real servers on loopback (integration), named ``localhost`` because cookie jars refuse
cookies from bare IP addresses, which would hide the hole.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from patchwire.hub import Hub
from patchwire.testing.loopback import serve_app

pytestmark = pytest.mark.integration

COOKIE = "session-cookie-value-7f3e"


def _provider(seen: list[str | None], set_cookie: bool) -> web.Application:
    async def chat(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Cookie"))
        body = await request.json()
        reply = web.json_response(
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
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
        )
        if set_cookie:
            reply.set_cookie("session", COOKIE, path="/")
        return reply

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    return app


def _named(url: str) -> str:
    return url.replace("127.0.0.1", "localhost") + "/v1"


async def test_a_cookie_one_server_sets_reaches_no_other_server(monkeypatch: Any) -> None:
    monkeypatch.setenv("PW_COOKIE_KEY_A", "sk-a-000")
    monkeypatch.setenv("PW_COOKIE_KEY_B", "sk-b-111")
    seen_a: list[str | None] = []
    seen_b: list[str | None] = []
    async with (
        serve_app(_provider(seen_a, set_cookie=True)) as url_a,
        serve_app(_provider(seen_b, set_cookie=False)) as url_b,
    ):
        config = {
            "connectors": {
                name: {
                    "type": "openai",
                    "base_url": _named(url),
                    "api_key": f"env:PW_COOKIE_KEY_{name[-1].upper()}",
                    "cache": {"ttl": 0},
                    "retry": {"max_attempts": 1},
                }
                for name, url in (("one_a", url_a), ("one_b", url_b))
            }
        }
        async with Hub.from_dict(config) as hub:
            await hub.model("one_a:gpt-4o-mini").complete("hi")
            await hub.model("one_a:gpt-4o-mini").complete("again")
            await hub.model("one_b:gpt-4o-mini").complete("hi")
    assert seen_b == [None]
    assert seen_a == [None, None]  # not even back to the server that set it
