"""Every request body the connector sends, and every answer the simulator gives, fits
OpenAI's published spec (openai-openapi 2.3.0).

Exception, by design: a base64 embedding is a string, which the spec's ``Embedding``
schema (an array of floats) does not describe although the API sends it; the SDK test
covers base64 answers instead.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.testing.simulator import FaultMix, SimLimits, SimRoute, Simulator
from patchwire.types import CompletionRequest, Message
from patchwire_openai.connector import OpenAIConnector
from patchwire_openai.wire import OpenAIWire

Validate = Callable[[str, Any], None]


class CapturingWire(OpenAIWire):
    """The OpenAI wire format, keeping every request body and its headers."""

    def __init__(self) -> None:
        self.bodies: list[tuple[str, Any]] = []
        self.seen_headers: list[dict[str, str]] = []

    def credential(self, headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
        self.seen_headers.append(dict(headers))
        return super().credential(headers, query)

    def parse(self, route: SimRoute, body: bytes, path_params: Mapping[str, str]) -> Any:
        self.bodies.append((route.operation, json.loads(body)))
        return super().parse(route, body, path_params)


SCHEMA = {"chat": "CreateChatCompletionRequest", "embed": "CreateEmbeddingRequest"}

messages = st.lists(
    st.builds(
        Message,
        st.sampled_from(["system", "user", "assistant"]),
        st.text(min_size=1, max_size=40),
    ),
    min_size=1,
    max_size=5,
)
chat_params = st.fixed_dictionaries(
    {},
    optional={
        "max_tokens": st.integers(1, 4096),
        "temperature": st.floats(0, 2),
        "top_p": st.floats(0, 1),
        "stop": st.one_of(
            st.text(min_size=1, max_size=5),
            st.lists(st.text(min_size=1, max_size=5), min_size=1, max_size=4),
        ),
        "seed": st.integers(-(2**31), 2**31 - 1),
        "presence_penalty": st.floats(-2, 2),
        "frequency_penalty": st.floats(-2, 2),
        "user": st.text(max_size=10),
    },
)


@pytest.fixture(scope="module")
def openai_connector() -> OpenAIConnector:
    made = object.__new__(OpenAIConnector)
    made._max_tokens_field = "max_completion_tokens"
    return made


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages, chat_params, st.booleans())
def test_every_chat_body_fits_the_spec(
    validate: Validate,
    openai_connector: OpenAIConnector,
    messages: list[Message],
    params: dict[str, Any],
    stream: bool,
) -> None:
    """Invariant: for any messages and parameters within the API's ranges, the body validates."""
    request = CompletionRequest("gpt-4o-mini", tuple(messages), params)
    validate("CreateChatCompletionRequest", openai_connector.chat_body(request, stream=stream))


@pytest.fixture
async def captured(openai_host: PluginHost, sim_key: str) -> AsyncIterator[CapturingWire]:
    """Bodies and headers the connector sent through the whole pipeline, for a mixed workload."""
    wire = CapturingWire()
    async with Simulator(wire, plugin_host=openai_host) as sim:
        table = {
            "base_url": sim.base_url,
            "api_key": "env:OPENAI_SIM_KEY",
            "organization": "org-test",
            "project": "proj_test",
            "cache": {"ttl": 0},
        }
        async with Hub.from_dict({"connectors": {"openai": table}}, host=openai_host) as hub:
            model = hub.model("openai:gpt-4o-mini")
            await model.complete("plain prompt")
            await model.complete(
                [
                    {"role": "system", "content": "be brief"},
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": "hello"},
                    {"role": "user", "content": "again"},
                ],
                max_tokens=12,
                temperature=0.3,
                top_p=0.9,
                stop=["\n\n"],
                seed=1,
            )
            async for _ in model.stream("stream me", max_tokens=30):
                pass
            embedder = hub.model("openai:text-embedding-3-small")
            await embedder.embed_many(["one", "two", "three"])
            await embedder.embed("four", dimensions=64, encoding_format="base64")
        yield wire


async def test_every_body_sent_fits_the_spec_and_carries_the_headers(
    captured: CapturingWire, validate: Validate, sim_key: str
) -> None:
    assert [op for op, _ in captured.bodies] == ["chat", "chat", "chat", "embed", "embed"]
    for operation, body in captured.bodies:
        validate(SCHEMA[operation], body)
    assert captured.bodies[1][1]["max_completion_tokens"] == 12
    assert captured.bodies[2][1]["stream_options"] == {"include_usage": True}
    for headers in captured.seen_headers:
        assert headers["Authorization"] == f"Bearer {sim_key}"
        assert headers["OpenAI-Organization"] == "org-test"
        assert headers["OpenAI-Project"] == "proj_test"


# --- answers -------------------------------------------------------------------------------


async def post(
    session: aiohttp.ClientSession, url: str, body: Any, key: str = "sk-x"
) -> tuple[int, bytes]:
    async with session.post(url, json=body, headers={"Authorization": f"Bearer {key}"}) as resp:
        return resp.status, await resp.read()


def sse_data(raw: bytes) -> list[str]:
    return [line[len("data: ") :] for line in raw.decode().split("\n") if line.startswith("data: ")]


CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Tell me something"}]}


@pytest.mark.integration
async def test_successes_streams_and_embeddings_fit_the_spec(validate: Validate) -> None:
    async with Simulator(OpenAIWire()) as sim, aiohttp.ClientSession() as s:
        url = sim.base_url
        for body in (CHAT, {**CHAT, "max_completion_tokens": 3}):
            status, raw = await post(s, url + "/chat/completions", body)
            assert status == 200
            validate("CreateChatCompletionResponse", json.loads(raw))
        for options in ({}, {"stream_options": {"include_usage": True}}):
            status, raw = await post(
                s, url + "/chat/completions", {**CHAT, "stream": True, **options}
            )
            data = sse_data(raw)
            assert status == 200 and data[-1] == "[DONE]"
            for chunk in data[:-1]:
                validate("CreateChatCompletionStreamResponse", json.loads(chunk))
            usage = json.loads(data[-2]).get("usage")
            assert (usage is not None) == bool(options)
        embeddings: list[dict[str, Any]] = [
            {"model": "text-embedding-3-small", "input": "one"},
            {"model": "text-embedding-3-large", "input": ["one", "two"], "dimensions": 32},
            {"model": "text-embedding-3-small", "input": [[1, 2, 3]]},
        ]
        for body in embeddings:
            status, raw = await post(s, url + "/embeddings", body)
            assert status == 200
            validate("CreateEmbeddingResponse", json.loads(raw))


@pytest.mark.integration
async def test_every_error_answer_fits_the_spec(validate: Validate) -> None:
    wire = OpenAIWire()
    answers: list[tuple[int, bytes]] = []
    async with aiohttp.ClientSession() as s:
        async with Simulator(wire, keys=["sk-good"]) as sim:
            answers.append(await post(s, sim.base_url + "/chat/completions", CHAT, key="sk-bad"))
            async with s.post(sim.base_url + "/chat/completions", json=CHAT) as resp:
                answers.append((resp.status, await resp.read()))  # no key at all
        limits = SimLimits(requests_per_minute=1, tokens_per_minute=500)
        async with Simulator(wire, limits=limits) as sim:
            url = sim.base_url + "/chat/completions"
            answers.append(await post(s, url, {**CHAT, "max_completion_tokens": 10_000}))
            assert (await post(s, url, CHAT))[0] == 200
            answers.append(await post(s, url, CHAT))  # over the requests per minute
            answers.append(await post(s, url, {"model": "gpt-4o-mini", "messages": []}))
            answers.append(await post(s, url, {**CHAT, "stream_options": {"include_usage": True}}))
            answers.append(await post(s, sim.base_url + "/embeddings", {"model": "m", "input": ""}))
            async with s.post(url, data=b"{not json") as resp:
                answers.append((resp.status, await resp.read()))
            async with s.get(sim.base_url + "/models/nothing") as resp:
                answers.append((resp.status, await resp.read()))
        faults = FaultMix(server_error=0.4, rate_limited=0.2, quota_exhausted=0.2, overloaded=0.2)
        async with Simulator(wire, faults=faults, seed=3) as sim:
            for _ in range(30):
                answers.append(await post(s, sim.base_url + "/chat/completions", CHAT))
    statuses = {status for status, _ in answers}
    assert statuses == {400, 401, 404, 429, 500, 502, 503}
    for _, raw in answers:
        validate("ErrorResponse", json.loads(raw))
