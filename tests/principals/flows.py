"""Helpers: a hub whose ``openai`` connector acts for users, and a user's consent."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
from patchwire.clock import Clock
from patchwire.events import Event
from patchwire.hub import Hub
from patchwire.plugins import PluginHost

from tests.auth.authserver import AuthServer

from .conftest import CLIENT_ID, REDIRECT, SECRET_ENV


def delegated_table(server: AuthServer, **overrides: Any) -> dict[str, Any]:
    return {
        "scheme": "oauth2_delegated",
        "token_url": server.url,
        "authorize_url": server.authorize_url,
        "client_id": CLIENT_ID,
        "client_secret": f"env:{SECRET_ENV}",
        "redirect_uri": REDIRECT,
        "scopes": ["read", "write"],
        **overrides,
    }


def delegated_hub(
    host: PluginHost,
    clock: Clock,
    server: AuthServer,
    base_url: str,
    *,
    events: list[Event] | None = None,
    extra: dict[str, Any] | None = None,
    principals: dict[str, Any] | None = None,
) -> Hub:
    connectors: dict[str, Any] = {
        "openai": {
            "base_url": base_url,
            "auth": delegated_table(server),
            "cache": {"ttl": 0},
            "retry": {"max_attempts": 1},
        },
        **(extra or {}),
    }
    hub = Hub.from_dict(
        {"connectors": connectors, "principals": principals or {}},
        host=host,
        clock=clock,
        seed=3,
    )
    if events is not None:
        hub.bus.add("test", events.append)
    return hub


async def consent(hub: Hub, user: str, connector: str = "openai") -> None:
    """``user`` goes through the authorization-code flow and the app stores the tokens."""
    start = hub.begin_authorization(connector, user)
    async with (
        aiohttp.ClientSession() as session,
        session.get(start.url, headers={"X-User": user}, allow_redirects=False) as resp,
    ):
        assert resp.status == 302, await resp.text()
        location = resp.headers["Location"]
    query = parse_qs(urlsplit(location).query)
    await hub.complete_authorization(
        connector, user, code=query["code"][0], state=query["state"][0]
    )
