"""The official ``openai`` SDK, pointed at the simulator, parses its successes, streams and
errors (with its own error classes). The simulator is only useful if real clients accept it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from patchwire.testing.simulator import FaultMix, SimLimits, Simulator
from patchwire_openai.wire import OpenAIWire

openai = pytest.importorskip("openai")

pytestmark = pytest.mark.integration  # a real server on loopback

MESSAGES = [{"role": "user", "content": "What is a token bucket?"}]


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(OpenAIWire(), keys=["sk-test"], seed=5) as running:
        yield running


def client(sim: Simulator, key: str = "sk-test") -> Any:
    return openai.AsyncOpenAI(base_url=sim.base_url, api_key=key, max_retries=0, timeout=5)


async def test_sdk_parses_a_completion(sim: Simulator) -> None:
    async with client(sim) as sdk:
        raw = await sdk.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=MESSAGES, max_completion_tokens=50
        )
        reply = raw.parse()
    assert raw.headers["x-request-id"].startswith("req_")
    assert reply.choices[0].message.content.endswith("You said: What is a token bucket?")
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None and reply.usage.total_tokens == (
        reply.usage.prompt_tokens + reply.usage.completion_tokens
    )


async def test_sdk_parses_a_stream_with_usage_on_the_last_chunk(sim: Simulator) -> None:
    async with client(sim) as sdk:
        stream = await sdk.chat.completions.create(
            model="gpt-4o-mini",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.endswith("You said: What is a token bucket?")
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert all(c.usage is None for c in chunks[:-1])


async def test_sdk_parses_float_and_base64_embeddings(sim: Simulator) -> None:
    async with client(sim) as sdk:
        floats = await sdk.embeddings.create(
            model="text-embedding-3-small", input=["a", "b"], encoding_format="float"
        )
        # Without encoding_format the SDK asks for base64 and decodes it itself.
        decoded = await sdk.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    assert [len(d.embedding) for d in floats.data] == [1536, 1536]
    for got, want in zip(decoded.data, floats.data, strict=True):
        assert got.embedding == pytest.approx(want.embedding, abs=1e-6)
    assert floats.usage.prompt_tokens == 2


async def test_sdk_error_classes_for_400_401_429_500(sim: Simulator) -> None:
    async with client(sim) as sdk:
        with pytest.raises(openai.BadRequestError) as bad:
            await sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, temperature=5)
        assert bad.value.code is None and bad.value.param == "temperature"
        assert bad.value.request_id is not None and bad.value.request_id.startswith("req_")
        sim.set_faults(FaultMix(rate_limited=1.0))
        with pytest.raises(openai.RateLimitError) as limited:
            await sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        assert limited.value.code == "rate_limit_exceeded"
        sim.set_faults(FaultMix(quota_exhausted=1.0))
        with pytest.raises(openai.RateLimitError) as quota:
            await sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        assert quota.value.code == "insufficient_quota"
        sim.set_faults(FaultMix(server_error=1.0))
        statuses = set()
        for _ in range(12):
            with pytest.raises(openai.InternalServerError) as broken:
                await sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
            statuses.add(broken.value.status_code)
        assert statuses == {500, 502, 503}
    async with client(sim, key="sk-wrong") as stranger:
        with pytest.raises(openai.AuthenticationError) as refused:
            await stranger.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert refused.value.code == "invalid_api_key"


async def test_sdk_sees_a_too_large_request_as_a_rate_limit_error() -> None:
    limits = SimLimits(tokens_per_minute=100)
    async with Simulator(OpenAIWire(), limits=limits) as sim, client(sim) as sdk:
        with pytest.raises(openai.RateLimitError) as large:
            await sdk.chat.completions.create(
                model="gpt-4o-mini", messages=MESSAGES, max_completion_tokens=500
            )
    assert "Request too large" in large.value.message


async def test_sdk_retry_honours_the_simulators_hint() -> None:
    """The SDK's own retry loop reads the hint the simulator writes (any of its forms)."""
    async with (
        Simulator(OpenAIWire(), faults=FaultMix(rate_limited=0.5, retry_after=0.01), seed=1) as sim,
        openai.AsyncOpenAI(base_url=sim.base_url, api_key="k", max_retries=5) as sdk,
    ):
        for _ in range(4):
            await sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert sim.stats().faults.get("rate_limited", 0) >= 1
