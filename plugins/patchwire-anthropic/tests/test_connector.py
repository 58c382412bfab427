"""Request bodies, version rules and capabilities, without a server; bodies fit the spec."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from patchwire.errors import ConfigError, InvalidRequestError
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.prices import PriceTable
from patchwire.types import CompletionRequest, Message, as_messages
from patchwire_anthropic.connector import (
    CURRENT_VERSION,
    AnthropicConnector,
    messages_url,
    usage_from,
)
from patchwire_anthropic.prices import PRICES


def connector(anthropic_host: PluginHost, **table: Any) -> AnthropicConnector:
    hub = Hub.from_dict(
        {"connectors": {"anthropic": {"api_key": "env:ANTHROPIC_SIM_KEY", **table}}},
        host=anthropic_host,
    )
    made = hub.runtime("anthropic").connector
    assert isinstance(made, AnthropicConnector)
    return made


def test_body_maps_system_stop_and_default_max_tokens(anthropic_host: PluginHost, key: str) -> None:
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


def test_current_version_refuses_sampling_parameters_before_sending(
    anthropic_host: PluginHost, key: str
) -> None:
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


def test_unknown_api_version_is_a_config_error(anthropic_host: PluginHost) -> None:
    with pytest.raises(ConfigError) as info:
        Hub.from_dict(
            {"connectors": {"anthropic": {"api_version": "2099-01-01"}}}, host=anthropic_host
        )
    assert info.value.key == "api_version" and CURRENT_VERSION in info.value.message


async def test_embed_is_refused_naming_the_capabilities(
    anthropic_host: PluginHost, key: str
) -> None:
    async with Hub.from_dict(
        {"connectors": {"anthropic": {"api_key": "env:ANTHROPIC_SIM_KEY"}}}, host=anthropic_host
    ) as hub:
        with pytest.raises(InvalidRequestError) as info:
            await hub.model("anthropic:claude-haiku-4-5").embed("text")
    assert (
        "does not support embed" in info.value.message
        and "complete, documents, images, reasoning, stream" in info.value.message
    )


turns = st.lists(
    st.builds(
        Message, st.sampled_from(["system", "user", "assistant"]), st.text(min_size=1, max_size=30)
    ),
    min_size=1,
    max_size=6,
).filter(lambda ms: any(m.role != "system" for m in ms))


sampling = st.fixed_dictionaries(
    {},
    optional={
        "temperature": st.floats(0, 1),
        "top_p": st.floats(0, 1),
        "top_k": st.integers(0, 500),
    },
)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    turns,
    st.integers(1, 8192),
    st.one_of(st.none(), st.text(min_size=1, max_size=5)),
    st.booleans(),
    sampling,
)
def test_every_body_fits_the_spec(
    anthropic_host: PluginHost,
    key: str,
    validate: Callable[[str, Any], None],
    messages: list[Message],
    max_tokens: int,
    stop: str | None,
    stream: bool,
    sampled: dict[str, Any],
) -> None:
    """Invariant: for any conversation and in-range parameters that the pinned version
    accepts (sampling only under 2023-06-01), the request passes ``validate`` and the body
    the connector sends validates as the spec's CreateMessageParams."""
    conn = connector(anthropic_host, **({"api_version": "2023-06-01"} if sampled else {}))
    params: dict[str, Any] = {"max_tokens": max_tokens, **sampled}
    if stop:
        params["stop"] = [stop]
    request = CompletionRequest("claude-haiku-4-5", tuple(messages), params)
    conn.validate(request)
    validate("CreateMessageParams", conn.body(request, stream=stream))


@pytest.mark.parametrize(
    ("base_url", "url"),
    [
        (None, "https://api.anthropic.com/v1/messages"),
        ("https://api.anthropic.com", "https://api.anthropic.com/v1/messages"),
        ("https://api.anthropic.com/", "https://api.anthropic.com/v1/messages"),
        ("http://127.0.0.1:8080/v1", "http://127.0.0.1:8080/v1/messages"),
        ("https://proxy.example/anthropic", "https://proxy.example/anthropic/v1/messages"),
    ],
)
def test_base_url_is_the_root_or_already_names_v1(base_url: str | None, url: str) -> None:
    assert messages_url(base_url) == url


def test_a_base_url_that_is_not_http_is_a_config_error(anthropic_host: PluginHost) -> None:
    with pytest.raises(ConfigError) as info:
        Hub.from_dict(
            {"connectors": {"anthropic": {"base_url": "api.anthropic.com"}}}, host=anthropic_host
        )
    assert info.value.key == "base_url"


def test_the_estimate_reserves_the_default_max_tokens(anthropic_host: PluginHost, key: str) -> None:
    conn = connector(anthropic_host, default_max_tokens=500)
    messages = (Message("user", "x" * 400),)
    assert conn.estimate_tokens(CompletionRequest("m", messages)) == 101 + 1 + 500
    assert conn.estimate_tokens(CompletionRequest("m", messages, {"max_tokens": 7})) == 102 + 7


counts = st.integers(0, 10**7)


@settings(max_examples=200, deadline=None)
@given(counts, counts, counts, counts)
def test_usage_counts_cache_reads_and_writes_as_input(
    plain: int, written: int, read: int, output: int
) -> None:
    """Invariant: input_tokens = input + cache_creation + cache_read; the cached part is
    exactly the cache reads and the created part exactly the cache writes."""
    usage = usage_from(
        {
            "input_tokens": plain,
            "cache_creation_input_tokens": written,
            "cache_read_input_tokens": read,
            "output_tokens": output,
        }
    )
    assert usage.input_tokens == plain + written + read
    assert (usage.cached_input_tokens, usage.cache_creation_input_tokens) == (read, written)
    assert usage.output_tokens == output and usage.cached_input_tokens <= usage.input_tokens


def test_malformed_usage_counts_nothing() -> None:
    assert usage_from(None).input_tokens == 0
    assert usage_from({"input_tokens": -3, "output_tokens": "7"}).output_tokens == 0


def test_prices_cover_snapshots_and_price_cache_reads_apart() -> None:
    table = PriceTable({("anthropic", model): price for model, price in PRICES.items()})
    assert table.lookup("anthropic", "claude-sonnet-4-5-20250929") == PRICES["claude-sonnet-4-5"]
    assert table.lookup("anthropic", "claude-opus-5-5") == PRICES["claude-opus-5-5"]
    assert table.lookup("anthropic", "claude-opus-5-9") is None  # unknown, never cheap
    full = table.cost("anthropic", "claude-haiku-4-5", 1_000_000, 0)
    cached = table.cost("anthropic", "claude-haiku-4-5", 1_000_000, 0, cached_input_tokens=10**6)
    assert (full, cached) == (1.0, 0.1)


def test_the_readme_configuration_loads(anthropic_host: PluginHost, key: str) -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    merged: dict[str, Any] = {"connectors": {}}
    for block in re.findall(r"```toml\n(.*?)```", readme, re.S):
        data = tomllib.loads(block)
        merged["connectors"].update(data.pop("connectors", {}))
        merged.update(data)
    assert set(merged["connectors"]) == {"anthropic", "claude-legacy"} and "prices" in merged
    hub = Hub.from_dict(merged, host=anthropic_host)
    assert hub.runtime("claude-legacy").config.api_version == "2023-06-01"
