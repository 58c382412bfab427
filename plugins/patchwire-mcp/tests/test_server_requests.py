"""Requests from the server: elicitation answered by the application's handler (defaults
filled in, the answer checked against the requested schema), roots from configuration.
The server's side of the exchange is the conformance suite's elicitation scenario
(test_conformance_suite.py); here the callback the SDK calls is driven directly."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcp import types
from patchwire.errors import ConfigError
from patchwire.hub import Hub
from patchwire_mcp import Elicitation, ElicitationAnswer, McpConnector, attach
from patchwire_mcp.server_requests import (
    answer_problem,
    elicitation_callback,
    roots_callback,
    with_defaults,
)

LOG = logging.getLogger("test")

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "default": "John Doe"},
        "age": {"type": "integer", "minimum": 0, "default": 30},
        "plan": {"type": "string", "enum": ["free", "pro"]},
    },
    "required": ["name", "age", "plan"],
}


def form(schema: dict[str, Any] = SCHEMA) -> types.ElicitRequestFormParams:
    return types.ElicitRequestFormParams.model_validate(
        {"message": "Who are you?", "requestedSchema": schema}
    )


def answering(answer: ElicitationAnswer, seen: list[Elicitation]) -> Any:
    async def handler(question: Elicitation) -> ElicitationAnswer:
        seen.append(question)
        return answer

    return handler


async def test_an_accepted_form_gets_the_defaults_the_user_left_out() -> None:
    seen: list[Elicitation] = []
    elicit = elicitation_callback(
        "srv", answering(ElicitationAnswer("accept", {"plan": "pro"}), seen), LOG
    )
    result = await elicit(None, form())
    assert isinstance(result, types.ElicitResult)
    assert result.action == "accept"
    assert result.content == {"name": "John Doe", "age": 30, "plan": "pro"}
    assert seen == [Elicitation("srv", "Who are you?", schema=SCHEMA)]


async def test_an_answer_that_does_not_fit_the_schema_is_refused_with_the_reason() -> None:
    elicit = elicitation_callback(
        "srv", answering(ElicitationAnswer("accept", {"plan": "gold"}), []), LOG
    )
    result = await elicit(None, form())
    assert isinstance(result, types.ErrorData)
    assert result.code == -32602
    assert "plan" in result.message and "'gold' is not one of" in result.message


@pytest.mark.parametrize("action", ["decline", "cancel"])
async def test_decline_and_cancel_carry_no_content(action: Any) -> None:
    elicit = elicitation_callback(
        "srv", answering(ElicitationAnswer(action, {"plan": "pro"}), []), LOG
    )
    result = await elicit(None, form())
    assert isinstance(result, types.ElicitResult)
    assert (result.action, result.content) == (action, None)


async def test_a_failing_handler_is_an_internal_error_that_names_only_its_type(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(question: Elicitation) -> ElicitationAnswer:
        raise ValueError("secret-ish detail")

    result = await elicitation_callback("srv", broken, LOG)(None, form())
    assert isinstance(result, types.ErrorData)
    assert result.code == -32603 and "ValueError" in result.message
    assert "secret-ish" not in result.message and "secret-ish" not in caplog.text


async def test_a_url_elicitation_reaches_the_handler_with_its_url() -> None:
    seen: list[Elicitation] = []
    elicit = elicitation_callback("srv", answering(ElicitationAnswer("accept"), seen), LOG)
    params = types.ElicitRequestURLParams.model_validate(
        {"mode": "url", "message": "Sign in", "url": "https://example.com/x", "elicitationId": "1"}
    )
    result = await elicit(None, params)
    assert isinstance(result, types.ElicitResult) and result.action == "accept"
    assert seen[0].url == "https://example.com/x" and seen[0].schema is None


_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.text(max_size=5),
    st.sampled_from(["free", "pro"]),
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(["name", "age", "plan", "extra"]), _values))
async def test_property_what_is_sent_as_accepted_always_fits_the_requested_schema(
    content: dict[str, Any],
) -> None:
    elicit = elicitation_callback("srv", answering(ElicitationAnswer("accept", content), []), LOG)
    result = await elicit(None, form())
    if isinstance(result, types.ElicitResult):
        assert result.content is not None
        assert answer_problem(SCHEMA, result.content) is None
        # Only defaults are added; what the user said is kept as said.
        assert {k: result.content[k] for k in content} == content
    else:
        assert answer_problem(SCHEMA, with_defaults(SCHEMA, content)) is not None


async def test_roots_come_from_configuration() -> None:
    listed = await roots_callback(["file:///srv/data", {"uri": "file:///tmp", "name": "scratch"}])(
        None
    )
    assert [(str(r.uri), r.name) for r in listed.roots] == [
        ("file:///srv/data", None),
        ("file:///tmp", "scratch"),
    ]


async def test_attach_gives_the_connector_its_handlers(
    make_hub: Callable[..., Hub],
) -> None:
    async def handler(question: Elicitation) -> ElicitationAnswer:
        return ElicitationAnswer("cancel")

    hub = make_hub(
        {
            "srv": {"type": "mcp", "url": "http://127.0.0.1:9/mcp", "roots": ["file:///srv"]},
        }
    )
    attach(hub, "srv", elicitation=handler)
    connector = hub.runtime("srv").connector
    assert isinstance(connector, McpConnector)
    options = connector._client_options()
    assert set(options) == {"elicitation_callback", "list_roots_callback", "message_handler"}


def test_without_a_handler_elicitation_is_not_offered(make_hub: Callable[..., Hub]) -> None:
    hub = make_hub({"srv": {"type": "mcp", "url": "http://127.0.0.1:9/mcp"}})
    connector = hub.runtime("srv").connector
    assert isinstance(connector, McpConnector)
    assert set(connector._client_options()) == {"message_handler"}


def test_roots_that_are_not_uris_are_refused_at_load(make_hub: Callable[..., Hub]) -> None:
    with pytest.raises(ConfigError, match="roots"):
        make_hub({"srv": {"type": "mcp", "url": "http://127.0.0.1:9/mcp", "roots": [3]}})


def test_oauth_with_another_credential_is_refused_at_load(make_hub: Callable[..., Hub]) -> None:
    table = {"type": "mcp", "url": "http://127.0.0.1:9/mcp", "oauth": {}, "api_key": "env:KEY"}
    with pytest.raises(ConfigError, match="oauth"):
        make_hub({"srv": table})
