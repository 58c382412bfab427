"""Request bodies, version rules and capabilities, without a server; bodies fit the spec."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from patchwire.errors import ConfigError, InvalidRequestError
from patchwire.hub import Hub
from patchwire.types import CompletionRequest, Message, as_messages
from patchwire_anthropic.connector import CURRENT_VERSION, AnthropicConnector


def connector(anthropic_host: Any, **table: Any) -> AnthropicConnector:
    hub = Hub.from_dict(
        {"connectors": {"anthropic": {"api_key": "env:ANTHROPIC_SIM_KEY", **table}}},
        host=anthropic_host,
    )
    made = hub.runtime("anthropic").connector
    assert isinstance(made, AnthropicConnector)
    return made


def test_body_maps_system_stop_and_default_max_tokens(anthropic_host, key) -> None:
    conn = connector(anthropic_host)
    request = CompletionRequest(
        "claude-haiku-4-5",
        as_messages([{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]),
        {"stop": "END"},
    )
    body = conn.body(request, stream=True)
    assert body == {
        "model": "claude-haiku-4-5",
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": "hi"}],
        "system": "be brief",
        "stop_sequences": ["END"],
        "stream": True,
    }
    assert conn._headers()["anthropic-version"] == CURRENT_VERSION


def test_current_version_refuses_sampling_parameters_before_sending(anthropic_host, key) -> None:
    conn = connector(anthropic_host)
    with pytest.raises(InvalidRequestError, match=r"refuses temperature.*2023-06-01"):
        conn.validate(CompletionRequest("m", (Message("user", "x"),), {"temperature": 0}))
    legacy = connector(anthropic_host, api_version="2023-06-01")
    legacy.validate(
        CompletionRequest("m", (Message("user", "x"),), {"temperature": 0.2, "top_k": 5})
    )
    assert legacy._headers()["anthropic-version"] == "2023-06-01"
    with pytest.raises(InvalidRequestError, match=r"not supported.*seed"):
        conn.validate(CompletionRequest("m", (Message("user", "x"),), {"seed": 1}))


def test_unknown_api_version_is_a_config_error(anthropic_host) -> None:
    with pytest.raises(ConfigError) as info:
        Hub.from_dict(
            {"connectors": {"anthropic": {"api_version": "2099-01-01"}}}, host=anthropic_host
        )
    assert info.value.key == "api_version" and CURRENT_VERSION in info.value.message


async def test_embed_is_refused_naming_the_capabilities(anthropic_host, key) -> None:
    async with Hub.from_dict(
        {"connectors": {"anthropic": {"api_key": "env:ANTHROPIC_SIM_KEY"}}}, host=anthropic_host
    ) as hub:
        with pytest.raises(InvalidRequestError) as info:
            await hub.model("anthropic:claude-haiku-4-5").embed("text")
    assert (
        "does not support embed" in info.value.message and "complete, stream" in info.value.message
    )


turns = st.lists(
    st.builds(
        Message, st.sampled_from(["system", "user", "assistant"]), st.text(min_size=1, max_size=30)
    ),
    min_size=1,
    max_size=6,
).filter(lambda ms: any(m.role != "system" for m in ms))


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    turns,
    st.integers(1, 8192),
    st.one_of(st.none(), st.text(min_size=1, max_size=5)),
    st.booleans(),
)
def test_every_body_fits_the_spec(
    anthropic_host, key, validate, messages, max_tokens, stop, stream
) -> None:
    """Invariant: for any conversation and in-range parameters, the body validates as CreateMessageParams."""
    conn = connector(anthropic_host)
    params: dict[str, Any] = {"max_tokens": max_tokens}
    if stop:
        params["stop"] = [stop]
    validate(
        "CreateMessageParams",
        conn.body(CompletionRequest("claude-haiku-4-5", tuple(messages), params), stream=stream),
    )
