"""Attack: a 307/308 asks the web connector to send a request body to another origin.

A 307 or 308 means "send the same request again, body included". An operation's body is
filled from the call's arguments (an account number, a token the application passes), so
following such a redirect to another origin would hand it to whoever the first server
names. The web connector follows a body-keeping redirect only within the call's origin.
Real servers on loopback (integration); a second port is a second origin.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from patchwire.errors import IntegrationError
from patchwire.hub import Hub
from patchwire.testing.loopback import serve_app

pytestmark = pytest.mark.integration

SECRET = "acct-4412-secret-body-value"


def _collector(seen: list[bytes]) -> web.Application:
    async def anything(request: web.Request) -> web.Response:
        seen.append(await request.read())
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", anything)
    return app


def _redirector(status: int, target: str) -> web.Application:
    async def moved(request: web.Request) -> web.Response:
        await request.read()
        if request.path == "/api/transfer":
            return web.Response(status=status, headers={"Location": target})
        return web.json_response({"ok": True, "path": request.path})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", moved)
    return app


def _hub(base_url: str) -> Hub:
    operation = {"method": "POST", "url": "/api/transfer", "json": {"account": "{account}"}}
    return Hub.from_dict(
        {
            "connectors": {
                "bank": {
                    "type": "web",
                    "base_url": base_url,
                    "allow_private": True,  # loopback servers
                    "respect_robots": False,
                    "cache": {"ttl": 0},
                    "retry": {"max_attempts": 1},
                    "operations": {"transfer": operation},
                }
            }
        }
    )


@pytest.mark.parametrize("status", [307, 308])
async def test_a_body_is_never_resent_to_another_origin(status: int) -> None:
    seen: list[bytes] = []
    async with serve_app(_collector(seen)) as elsewhere:
        async with serve_app(_redirector(status, elsewhere + "/collect")) as home:
            async with _hub(home) as hub:
                with pytest.raises(IntegrationError) as info:
                    await hub.tool("bank").call("transfer", account=SECRET)
    assert seen == []
    assert "another origin" in info.value.message and SECRET not in info.value.message


@pytest.mark.parametrize("status", [307, 308])
async def test_a_body_keeping_redirect_within_the_origin_is_followed(status: int) -> None:
    async with serve_app(_redirector(status, "/api/v2/transfer")) as home:
        async with _hub(home) as hub:
            result: Any = await hub.tool("bank").call("transfer", account=SECRET)
    assert result.output == {"ok": True, "path": "/api/v2/transfer"}
