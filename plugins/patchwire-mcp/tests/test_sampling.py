"""Sampling: the toolbox (stdio, ``--sampling``, a handshake-era session) asks the client's
model from inside a tool call, and the hub's ``fake`` model named by the connector's
``sampling`` table (``writer:small``) answers through the pipeline, so the request is in that model's metrics;
the server's budget bounds how many requests and tokens it may use. Integration tests: a
real server process on the real clock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from patchwire.errors import ConfigError, InvalidRequestError
from patchwire.hub import Hub
from patchwire.testing.fake import FakeConnector
from patchwire_mcp import attach

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("fake_scripts")]


def hub_with(
    make_hub: Callable[..., Hub], toolbox_table: Callable[..., dict[str, Any]], **sampling: Any
) -> Hub:
    table = toolbox_table(
        "--sampling", protocol="legacy", sampling={"model": "writer:small", **sampling}
    )
    return make_hub({"tb": table, "writer": {"type": "fake", "retry": {"max_attempts": 1}}})


async def test_a_servers_sampling_request_is_a_call_of_the_configured_model(
    make_hub: Callable[..., Hub], toolbox_table: Callable[..., dict[str, Any]]
) -> None:
    hub = hub_with(make_hub, toolbox_table)
    attach(hub, "tb")
    result = await hub.tool("tb").call("sample", prompt="the weather?")
    assert result.output["text"] == "echo: the weather?"
    writer = hub.runtime("writer").connector
    assert isinstance(writer, FakeConnector)
    [call] = writer.script.calls
    roles = [(m.role, m.content) for m in call.request.messages]
    assert roles == [("system", "be brief"), ("user", "the weather?")]
    assert call.request.params["max_tokens"] == 50
    row = hub.metrics().for_model("writer", "small")
    assert row.succeeded == 1
    assert (row.input_tokens, row.output_tokens) == (10, 5)


async def test_the_budget_refuses_requests_past_it(
    make_hub: Callable[..., Hub], toolbox_table: Callable[..., dict[str, Any]]
) -> None:
    hub = hub_with(make_hub, toolbox_table, max_requests=1)
    attach(hub, "tb")
    assert (await hub.tool("tb").call("sample", prompt="one")).output["text"] == "echo: one"
    with pytest.raises(InvalidRequestError) as refused:
        await hub.tool("tb").call("sample", prompt="two")
    assert "sampling refused" in refused.value.message
    assert "1 sampling requests are used" in refused.value.message
    writer = hub.runtime("writer").connector
    assert isinstance(writer, FakeConnector) and len(writer.script.calls) == 1


async def test_the_token_budget_caps_what_a_request_may_ask_for(
    make_hub: Callable[..., Hub], toolbox_table: Callable[..., dict[str, Any]]
) -> None:
    hub = hub_with(make_hub, toolbox_table, max_tokens=20)
    attach(hub, "tb")
    await hub.tool("tb").call("sample", prompt="one")
    writer = hub.runtime("writer").connector
    assert isinstance(writer, FakeConnector)
    assert writer.script.calls[0].request.params["max_tokens"] == 20


async def test_without_attach_sampling_is_not_offered(
    make_hub: Callable[..., Hub], toolbox_table: Callable[..., dict[str, Any]]
) -> None:
    hub = hub_with(make_hub, toolbox_table)
    with pytest.raises(InvalidRequestError) as refused:
        await hub.tool("tb").call("sample", prompt="x")
    assert "sampling refused" in refused.value.message


def test_a_sampling_table_without_a_model_is_refused_at_load(
    make_hub: Callable[..., Hub], toolbox_table: Callable[..., dict[str, Any]]
) -> None:
    with pytest.raises(ConfigError, match="sampling"):
        make_hub({"tb": toolbox_table(sampling={"max_requests": 2})})
