"""An OAuth-protected MCP server called with per-principal tokens.

Integration: authlib's authorization server and a small MCP server (the SDK's streamable
HTTP server behind a resource-server guard that follows the MCP authorization spec) on
127.0.0.1, the real clock. The application discovers the authorization server from the
401 challenge's protected-resource metadata, configures the MCP connector with
``oauth2_delegated`` and the server as the resource indicator (RFC 8707), and each user's
calls carry that user's token. (Discovery and registration inside the connector are
issue 23's; this proves the per-principal token path they will build on.)
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from patchwire import AuthError, Principal
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire_mcp.plugin import plugin as mcp_plugin

from tests.auth.authserver import AuthServer

from .flows import consent, delegated_table
from .mcp_server import serve_mcp

pytestmark = pytest.mark.integration


async def _discover(url: str) -> dict[str, Any]:
    """What a client learns from the spec's 401 challenge and the metadata it points to."""
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json={}) as resp:
            assert resp.status == 401
            challenge = resp.headers["WWW-Authenticate"]
        metadata_url = challenge.split('resource_metadata="', 1)[1].split('"', 1)[0]
        async with session.get(metadata_url) as resp:
            data: dict[str, Any] = await resp.json()
            return data


async def test_an_oauth_protected_mcp_server_is_called_with_per_principal_tokens(
    host: PluginHost, auth_server: AuthServer, app_secret: str
) -> None:
    host.register(mcp_plugin, "patchwire_mcp.plugin", distribution="patchwire-mcp")
    async with serve_mcp(auth_server) as mcp:
        metadata = await _discover(mcp.url)
        assert metadata["resource"] == mcp.url
        assert auth_server.url.startswith(metadata["authorization_servers"][0])
        table = delegated_table(auth_server, resource=metadata["resource"])
        hub = Hub.from_dict(
            {"connectors": {"tracker": {"type": "mcp", "url": mcp.url, "auth": table}}},
            host=host,
        )
        async with hub:
            await consent(hub, "alice", connector="tracker")
            await consent(hub, "bob", connector="tracker")
            tool = hub.tool("tracker")
            who = ["alice", "bob"] * 4
            results = await asyncio.gather(
                *(tool.call("whoami", principal=Principal(p)) for p in who)
            )
            with pytest.raises(AuthError):
                await tool.call("whoami", principal=Principal("carol"))  # never authorized
    assert [r.text for r in results] == who
    assert {u for u in mcp.seen if u is not None} == {"alice", "bob"}
    # The resource indicator went with every authorization request.
    assert all(q.get("resource") == mcp.url for q in auth_server.authorize_requests)
