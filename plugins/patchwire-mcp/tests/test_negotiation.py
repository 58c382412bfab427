"""Protocol negotiation without noise: one probe per server, errors that name the request
actually sent, and a refused probe that is an auth error after one request.

The server (tests/servers/jsonrpc.py) records every JSON-RPC method it receives; it speaks
the handshake era (``initialize``) and refuses ``server/discover`` as a server of that era
does. Integration tests: real HTTP on the real clock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from patchwire.errors import AuthError
from patchwire.hub import Hub

pytestmark = pytest.mark.integration


async def test_a_refused_probe_is_one_request_and_an_auth_error_naming_it(
    make_hub: Callable[..., Hub], jsonrpc: Any
) -> None:
    server = jsonrpc.LegacyServer(refuse=True)
    async with jsonrpc.serving(server) as url:
        hub = make_hub({"srv": {"type": "mcp", "url": url, "retry": {"max_attempts": 1}}})
        with pytest.raises(AuthError) as refused:
            await hub.tool("srv").call("echo", text="x")
    assert server.methods == ["server/discover"]
    assert refused.value.status == 401
    assert "server/discover" in refused.value.message and "initialize" not in refused.value.message


async def test_a_refused_handshake_names_initialize_alone(
    make_hub: Callable[..., Hub], jsonrpc: Any
) -> None:
    server = jsonrpc.LegacyServer(refuse=True)
    async with jsonrpc.serving(server) as url:
        hub = make_hub(
            {"srv": {"type": "mcp", "url": url, "protocol": "legacy", "retry": {"max_attempts": 1}}}
        )
        with pytest.raises(AuthError) as refused:
            await hub.tool("srv").call("echo", text="x")
    assert server.methods == ["initialize"]
    assert "initialize" in refused.value.message and "server/discover" not in refused.value.message


async def test_the_era_is_probed_once_per_server_and_remembered_across_restarts(
    make_hub: Callable[..., Hub], jsonrpc: Any
) -> None:
    server = jsonrpc.LegacyServer()
    async with jsonrpc.serving(server) as url:
        hub = make_hub({"srv": {"type": "mcp", "url": url}})
        tool = hub.tool("srv")
        assert (await tool.call("echo", text="one")).text == "one"
        # The server forgets the session: the connector starts a new one and calls again.
        server.forgotten.add("s1")
        assert (await tool.call("echo", text="two")).text == "two"
    assert server.methods.count("server/discover") == 1
    assert server.methods.count("initialize") == 2
