"""The connector against a streamable-HTTP MCP server: the toolbox served by the SDK's
server API (stateless, 2026-07-28) with uvicorn on a loopback port, in a child process.
Integration tests: a real server on the real clock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from patchwire.errors import AuthError, InvalidRequestError, TransientError
from patchwire.hub import Hub

pytestmark = pytest.mark.integration


async def test_http_server_listed_page_by_page_and_called_with_bearer_credentials(
    make_hub: Callable[..., Hub], http_toolbox: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOOLBOX_TOKEN", "s3cret-token")
    server = http_toolbox("--token", "s3cret-token", "--page-size", "3")
    hub = make_hub({"tb": {"type": "mcp", "url": server.url, "api_key": "env:TOOLBOX_TOKEN"}})
    tool = hub.tool("tb")
    names = [t.name for t in await tool.list()]
    # Pages of three: every tool is there only if every cursor was followed.
    assert names == [
        "echo",
        "add",
        "slow",
        "whoami",
        "fail",
        "internal",
        "strict",
        "probe",
        "stats",
    ]
    result = await tool.call("add", a=20, b=22)
    assert result.output == {"sum": 42}
    assert result.metadata["protocol_version"] == "2026-07-28"

    with pytest.raises(InvalidRequestError) as failed:
        await tool.call("fail", message="no such branch")
    assert failed.value.message.endswith("failed: no such branch")
    with pytest.raises(InvalidRequestError) as strict:
        await tool.call("strict")
    assert strict.value.code == "-32602"
    with pytest.raises(InvalidRequestError) as invalid:
        await tool.call("add", a=1)
    assert "'b' is a required property" in invalid.value.message


async def test_http_wrong_credentials_are_an_auth_error_never_leaked(
    make_hub: Callable[..., Hub], http_toolbox: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOOLBOX_TOKEN", "wrong-token-value")
    server = http_toolbox("--token", "s3cret-token")
    hub = make_hub({"tb": {"type": "mcp", "url": server.url, "api_key": "env:TOOLBOX_TOKEN"}})
    with pytest.raises(AuthError) as info:
        await hub.tool("tb").call("echo", text="x")
    assert info.value.status == 401
    assert "HTTP 401" in info.value.message and "bad token" in info.value.message
    assert "wrong-token-value" not in str(info.value)


async def test_http_server_gone_is_transient_and_the_next_call_reconnects(
    make_hub: Callable[..., Hub], http_toolbox: Callable[..., Any]
) -> None:
    server = http_toolbox()
    hub = make_hub({"tb": {"type": "mcp", "url": server.url, "retry": {"max_attempts": 1}}})
    tool = hub.tool("tb")
    assert (await tool.call("echo", text="before")).text == "before"
    server.stop()
    with pytest.raises(TransientError) as info:
        await tool.call("echo", text="while down")
    assert "MCP server 'tb'" in info.value.message
    server.start()  # the same port again
    assert (await tool.call("echo", text="after")).text == "after"
