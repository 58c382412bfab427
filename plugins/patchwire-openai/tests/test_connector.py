"""The connector without a server: request bodies, validation, configuration, estimates, prices."""

from __future__ import annotations

import json
import sys
import types
from typing import Any

import pytest
from multidict import CIMultiDict, CIMultiDictProxy
from patchwire.errors import ConfigError, IntegrationError, InvalidRequestError
from patchwire.http import HttpResponse
from patchwire.hub import Hub
from patchwire.parts import Text
from patchwire.plugins import PluginHost
from patchwire.types import CompletionRequest, EmbeddingRequest, Message
from patchwire_openai import tokens
from patchwire_openai.connector import OpenAIConnector
from patchwire_openai.request import plain_text

UNREACHABLE = "http://127.0.0.1:9/v1"  # nothing is ever sent in these tests


def connector(host: PluginHost, **table: Any) -> OpenAIConnector:
    hub = Hub.from_dict(
        {"connectors": {"openai": {"base_url": UNREACHABLE, "api_key": "env:K", **table}}},
        host=host,
    )
    made = hub.runtime("openai").connector
    assert isinstance(made, OpenAIConnector)
    return made


def chat(*messages: Message, **params: Any) -> CompletionRequest:
    return CompletionRequest("gpt-4o-mini", messages or (Message("user", "hi"),), params)


def test_chat_body_maps_max_tokens_and_passes_parameters_through(openai_host: PluginHost) -> None:
    conn = connector(openai_host)
    request = chat(
        Message("system", "be brief"),
        Message("user", "hi"),
        max_tokens=20,
        temperature=0.2,
        stop=["\n"],
        seed=7,
        top_p=None,
    )
    assert conn.chat_body(request, stream=False) == {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hi"},
        ],
        "max_completion_tokens": 20,
        "temperature": 0.2,
        "stop": ["\n"],
        "seed": 7,
    }
    streamed = conn.chat_body(chat(), stream=True)
    assert streamed["stream"] is True and streamed["stream_options"] == {"include_usage": True}


def test_older_servers_get_max_tokens(openai_host: PluginHost) -> None:
    conn = connector(openai_host, max_tokens_field="max_tokens")
    assert conn.chat_body(chat(max_tokens=5), stream=False)["max_tokens"] == 5


def test_embedding_body_takes_settings_and_per_call_parameters(openai_host: PluginHost) -> None:
    conn = connector(openai_host, embedding_dimensions=256, encoding_format="base64")
    body = conn.embedding_body(EmbeddingRequest("text-embedding-3-small", ("a", "b")))
    assert body == {
        "model": "text-embedding-3-small",
        "input": ["a", "b"],
        "encoding_format": "base64",
        "dimensions": 256,
    }
    per_call = EmbeddingRequest("m", ("a",), {"dimensions": 8, "encoding_format": "float"})
    assert conn.embedding_body(per_call)["dimensions"] == 8
    assert conn.embedding_body(per_call)["encoding_format"] == "float"


@pytest.mark.parametrize(
    ("request_", "complaint"),
    [
        (chat(frequency=1), "unknown parameter"),
        (chat(max_tokens=0), "positive integer"),
        (chat(max_tokens="9"), "positive integer"),
        (chat(Message("tool", "42")), "tool_call_id"),
        (EmbeddingRequest("m", ("a", "")), "empty string"),
        (EmbeddingRequest("m", ()), "1 to 2048"),
        (EmbeddingRequest("m", ("a",) * 2049), "1 to 2048"),
        (EmbeddingRequest("m", ("a",), {"encoding_format": "hex"}), "'float' or 'base64'"),
        (EmbeddingRequest("m", ("a",), {"temperature": 1}), "unknown parameter"),
    ],
)
def test_requests_the_api_would_refuse_are_refused_before_sending(
    openai_host: PluginHost, request_: Any, complaint: str
) -> None:
    with pytest.raises(InvalidRequestError, match=complaint):
        connector(openai_host).validate(request_)


def test_only_plain_text_skips_building_the_messages_in_validation(openai_host: PluginHost) -> None:
    """Validation builds the messages (and so can refuse them) unless every one is a string
    from a role other than 'tool', which is sent as it is."""
    assert plain_text(chat(Message("system", "be brief"), Message("user", "hi")))
    assert not plain_text(chat(Message("user", "hi"), Message("tool", "42")))
    assert not plain_text(chat(Message("user", (Text("hi"),))))
    conn = connector(openai_host)
    conn.validate(chat(Message("system", "be brief"), Message("user", "hi")))
    with pytest.raises(InvalidRequestError, match="tool_call_id"):
        conn.validate(chat(Message("user", "hi"), Message("tool", "42")))


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        (b"[1]", "has no choices"),
        (b'{"choices": []}', "has no choices"),
        (b'{"choices": [[]]}', "has no choices"),
        (b'{"choices": [{"message": "hi"}]}', "has no message"),
    ],
)
def test_a_reply_whose_parts_are_not_json_objects_is_malformed(
    openai_host: PluginHost, body: bytes, complaint: str
) -> None:
    response = HttpResponse(200, CIMultiDictProxy(CIMultiDict()), body, UNREACHABLE)
    with pytest.raises(IntegrationError, match=complaint):
        connector(openai_host)._completion(response, chat())


def test_usage_reads_its_details_only_from_json_objects(openai_host: PluginHost) -> None:
    body = {
        "choices": [{"message": {"content": "hi"}}],
        "usage": {
            "prompt_tokens": 9,
            "completion_tokens": 4,
            "prompt_tokens_details": {"cached_tokens": 2},
            "completion_tokens_details": [3],
        },
    }
    response = HttpResponse(
        200, CIMultiDictProxy(CIMultiDict()), json.dumps(body).encode(), UNREACHABLE
    )
    usage = connector(openai_host)._completion(response, chat()).usage
    assert (usage.input_tokens, usage.output_tokens) == (9, 4)
    assert (usage.cached_input_tokens, usage.reasoning_tokens) == (2, 0)


async def test_a_refused_request_fails_without_an_attempt(openai_host: PluginHost) -> None:
    hub = Hub.from_dict(
        {"connectors": {"openai": {"base_url": UNREACHABLE, "api_key": "env:K"}}}, host=openai_host
    )
    async with hub:
        with pytest.raises(InvalidRequestError) as info:
            await hub.model("openai:gpt-4o-mini").complete("hi", nucleus=0.3)
    assert info.value.attempts == 0 and info.value.connector == "openai"


@pytest.mark.parametrize(
    ("key", "value", "complaint"),
    [
        ("base_url", "api.openai.com/v1", "http"),
        ("encoding_format", "hex", "'float' or 'base64'"),
        ("embedding_dimensions", 0, "positive integer"),
        ("max_tokens_field", "max_output_tokens", "max_completion_tokens"),
    ],
)
def test_bad_settings_fail_at_load_naming_the_key(
    openai_host: PluginHost, key: str, value: Any, complaint: str
) -> None:
    with pytest.raises(ConfigError, match=complaint) as info:
        Hub.from_dict({"connectors": {"openai": {key: value}}}, host=openai_host)
    assert info.value.key == key and info.value.table == "connectors.openai"


def test_estimate_without_tiktoken_is_cores_character_count(
    openai_host: PluginHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tokens, "_by_model", {"gpt-4o-mini": None})
    request = chat(Message("user", "x" * 40), max_tokens=10)
    conn = connector(openai_host)
    assert conn.estimate_tokens(request) == super(OpenAIConnector, conn).estimate_tokens(request)


def test_estimate_uses_tiktoken_when_installed(
    openai_host: PluginHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Words:
        def encode_ordinary(self, text: str) -> list[str]:
            return text.split()

    fake = types.ModuleType("tiktoken")
    fake.get_encoding = lambda name: Words() if name == "o200k_base" else None  # type: ignore[attr-defined]
    fake_model = types.ModuleType("tiktoken.model")

    def name_for(model: str) -> str:
        if model.startswith("gpt-4o"):
            return "o200k_base"
        raise KeyError(model)

    fake_model.encoding_name_for_model = name_for  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tiktoken", fake)
    monkeypatch.setitem(sys.modules, "tiktoken.model", fake_model)
    monkeypatch.setattr(tokens, "_by_model", {})
    monkeypatch.setattr(tokens, "_by_name", {})
    conn = connector(openai_host)
    # 2 + 3 words, 3 framing tokens per message, 3 for the reply, and the output budget
    request = chat(Message("system", "be brief"), Message("user", "one two three"), max_tokens=10)
    assert conn.estimate_tokens(request) == 5 + 2 * 3 + 3 + 10
    assert conn.estimate_tokens(EmbeddingRequest("llama3", ("a b", "c"))) == 3  # unknown model


def test_a_tiktoken_that_cannot_load_its_data_falls_back_for_good(
    openai_host: PluginHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def offline(name: str) -> Any:
        calls.append(name)
        raise OSError("no network to fetch the encoding")

    fake = types.ModuleType("tiktoken")
    fake.get_encoding = offline  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tiktoken", fake)
    monkeypatch.setitem(sys.modules, "tiktoken.model", types.ModuleType("tiktoken.model"))
    monkeypatch.setattr(tokens, "_by_model", {})
    monkeypatch.setattr(tokens, "_by_name", {})
    conn = connector(openai_host)
    for model in ("gpt-4o", "gpt-4.1", "o3"):
        assert conn.estimate_tokens(chat(Message("user", "abcd" * 5))) > 0
        assert conn.estimate_tokens(EmbeddingRequest(model, ("abcd",))) == 2
    assert len(calls) == 1


def test_prices_cover_current_models_and_configuration_overrides_them(
    openai_host: PluginHost,
) -> None:
    hub = Hub.from_dict(
        {"prices": {"openai:gpt-4o": {"input": 1.0, "output": 2.0}}}, host=openai_host
    )
    for model in (
        "gpt-4o-mini",
        "gpt-4.1",
        "gpt-4.1-mini",
        "gpt-4.1-nano",
        "o3",
        "o4-mini",
        "text-embedding-3-small",
        "text-embedding-3-large",
        "gpt-4o-mini-2024-07-18",
    ):
        assert hub.prices.lookup("openai", model) is not None, model
    assert hub.prices.cost("openai", "gpt-4o", 1_000_000, 1_000_000, 0) == pytest.approx(3.0)
    assert hub.prices.cost("openai", "gpt-4o-mini", 1_000_000, 0, 0) == pytest.approx(0.15)
