"""The Gemini connector through the whole pipeline, against the simulator on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web
from patchwire.errors import (
    ConfigError,
    IntegrationError,
    InvalidRequestError,
    PatchwireError,
    QuotaExhaustedError,
    RateLimitedError,
    TransientError,
)
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.testing.sim_content import embedding_vector, reply_text
from patchwire.testing.simulator import FaultMix, SimLimits, Simulator
from patchwire_gemini.plugin import GeminiPlugin
from patchwire_gemini.simwire import BLOCK_PROMPT, BLOCK_RESPONSE

pytestmark = pytest.mark.integration  # real HTTP on loopback, real time for the waits

KEY = "gemini-test-key-0d1e"
MODEL = "gemini-2.5-flash"


@pytest.fixture
def host(plugin_host: PluginHost, monkeypatch: pytest.MonkeyPatch) -> PluginHost:
    monkeypatch.setenv("GEMINI_TEST_KEY", KEY)
    plugin_host.register(GeminiPlugin(), "gemini")
    return plugin_host


HubFactory = Callable[..., Hub]


@pytest.fixture
async def sim(host: PluginHost) -> AsyncIterator[Simulator]:
    async with Simulator("gemini", keys=[KEY], seed=11, plugin_host=host) as simulator:
        yield simulator


@pytest.fixture
def make_hub(host: PluginHost, sim: Simulator) -> HubFactory:
    def make(**table: Any) -> Hub:
        connector = {
            "base_url": sim.base_url,
            "api_key": "env:GEMINI_TEST_KEY",
            "timeout": 2,
            "retry": {"max_attempts": 2, "initial": 0.01, "cap": 0.05, "deadline": 10},
            "breaker": {"enabled": False},
            **table,
        }
        return Hub.from_dict({"connectors": {"gemini": connector}}, host=host)

    return make


def full_reply(prompt: str) -> str:
    return reply_text(prompt)[0]


async def test_complete_stream_and_embed_through_the_hub(make_hub: HubFactory) -> None:
    async with make_hub() as hub:
        model = hub.model(f"gemini:{MODEL}")
        reply = await model.complete(
            [{"role": "system", "content": "be brief"}, {"role": "user", "content": "Hi there"}],
            max_tokens=100,
        )
        assert reply.text == full_reply("Hi there")
        assert (reply.finish_reason, reply.attempts) == ("stop", 1)
        assert reply.usage.input_tokens > 0 and reply.usage.output_tokens > 0
        assert reply.cost is not None and reply.cost > 0
        assert reply.request_id
        chunks = [chunk async for chunk in model.stream("Hi there")]
        assert "".join(c.text for c in chunks) == reply.text
        assert chunks[-1].usage is not None and chunks[-1].finish_reason == "stop"
        vector = await model.embed("hello", dimensions=8)
        assert vector.vector == pytest.approx(embedding_vector("hello", MODEL, 8))


async def test_the_batcher_uses_batch_embed_contents_in_batches_of_100(
    make_hub: HubFactory, sim: Simulator
) -> None:
    texts = [f"text number {i}" for i in range(150)]
    async with make_hub() as hub:
        vectors = await hub.model("gemini:gemini-embedding-001").embed_many(texts, dimensions=4)
    assert [v.vector for v in vectors] == [
        pytest.approx(embedding_vector(t, "gemini-embedding-001", 4)) for t in texts
    ]
    assert sim.stats().by_path == {"/v1beta/models/gemini-embedding-001:batchEmbedContents": 2}


async def test_a_blocked_prompt_fails_once_as_a_content_error(
    make_hub: HubFactory, sim: Simulator
) -> None:
    async with make_hub() as hub:
        with pytest.raises(InvalidRequestError) as info:
            await hub.model(f"gemini:{MODEL}").complete(f"please {BLOCK_PROMPT}")
    assert (info.value.code, info.value.attempts) == ("SAFETY", 1)
    assert sim.stats().requests == 1


async def test_a_stream_stopped_by_the_safety_filter_keeps_its_text_and_ends_classified(
    make_hub: HubFactory, sim: Simulator
) -> None:
    prompt = f"tell me {BLOCK_RESPONSE}"
    received: list[str] = []
    async with make_hub() as hub:
        with pytest.raises(InvalidRequestError) as info:
            async for chunk in hub.model(f"gemini:{MODEL}").stream(prompt):
                received.append(chunk.text)
    assert info.value.code == "SAFETY" and info.value.attempts == 1
    assert "".join(received) == full_reply(prompt)
    assert sim.stats().requests == 1


async def test_a_per_day_quota_fails_at_once_as_quota_exhausted(
    make_hub: HubFactory, sim: Simulator
) -> None:
    sim.set_faults(FaultMix(quota_exhausted=1.0))
    async with make_hub(retry={"max_attempts": 4, "initial": 0.01, "cap": 0.05}) as hub:
        with pytest.raises(QuotaExhaustedError) as info:
            await hub.model(f"gemini:{MODEL}").complete("hi")
    assert info.value.attempts == 1
    assert "PerDay" in info.value.message
    assert sim.stats().requests == 1


async def test_a_rate_limit_waits_at_least_the_retry_delay(
    make_hub: HubFactory, sim: Simulator
) -> None:
    sim.set_faults(FaultMix(rate_limited=1.0, retry_after=0.3))
    async with make_hub() as hub:
        with pytest.raises(RateLimitedError) as info:
            await hub.model(f"gemini:{MODEL}").complete("hi")
    assert info.value.attempts == 2
    first, second = (record.arrived for record in sim.journal)
    assert second - first >= 0.3


async def test_a_stream_broken_after_its_first_chunk_ends_classified_without_duplicates(
    make_hub: HubFactory, sim: Simulator
) -> None:
    sim.set_faults(FaultMix(broken_stream=1.0))
    prompt = "a prompt long enough for several chunks"
    received: list[str] = []
    async with make_hub() as hub:
        with pytest.raises(PatchwireError) as info:
            async for chunk in hub.model(f"gemini:{MODEL}").stream(prompt):
                received.append(chunk.text)
    assert info.value.attempts == 1 and "stream broke after it started" in info.value.message
    text = "".join(received)
    assert text and full_reply(prompt).startswith(text) and text != full_reply(prompt)


async def test_a_stream_that_ends_without_its_final_event_is_transient(
    make_hub: HubFactory, sim: Simulator
) -> None:
    sim.set_faults(FaultMix(truncated=1.0))
    async with make_hub() as hub:
        with pytest.raises(TransientError) as info:
            async for _ in hub.model(f"gemini:{MODEL}").stream("a prompt of some words"):
                pass
    assert "before its final event" in info.value.message


@pytest.mark.parametrize(
    ("faults", "error", "attempts"),
    [
        (FaultMix(reset=1.0), TransientError, 2),
        (FaultMix(truncated=1.0), TransientError, 2),
        (FaultMix(malformed=1.0), IntegrationError, 1),
        (FaultMix(server_error=1.0), PatchwireError, 2),
    ],
)
async def test_transport_faults_are_classified(
    make_hub: HubFactory,
    sim: Simulator,
    faults: FaultMix,
    error: type[PatchwireError],
    attempts: int,
) -> None:
    sim.set_faults(faults)
    async with make_hub() as hub:
        with pytest.raises(error) as info:
            await hub.model(f"gemini:{MODEL}").complete("hi")
    assert info.value.attempts == attempts
    assert KEY not in str(info.value)


# --- what goes on the wire, seen by a bare server ------------------------------------------


@pytest.fixture
async def capture() -> AsyncIterator[tuple[str, list[web.Request]]]:
    seen: list[web.Request] = []

    async def generate(request: web.Request) -> web.Response:
        seen.append(request)
        return web.json_response(
            {
                "candidates": [
                    {
                        "content": {"role": "model", "parts": [{"text": "ok"}]},
                        "finishReason": "STOP",
                    }
                ],
                "usageMetadata": {
                    "promptTokenCount": 4,
                    "candidatesTokenCount": 1,
                    "thoughtsTokenCount": 6,
                    "cachedContentTokenCount": 2,
                    "totalTokenCount": 11,
                },
            }
        )

    app = web.Application()
    app.router.add_post("/v1beta/models/{model}", generate)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/v1beta", seen
    await runner.cleanup()


async def test_the_key_travels_in_the_header_never_in_the_url(
    host: PluginHost, capture: tuple[str, list[web.Request]]
) -> None:
    url, seen = capture
    config = {"base_url": url, "api_key": "env:GEMINI_TEST_KEY", "user_project": "billing-1"}
    async with Hub.from_dict({"connectors": {"gemini": config}}, host=host) as hub:
        reply = await hub.model("gemini:gemini-2.5-pro").complete("hi")
    request = seen[0]
    assert request.headers["x-goog-api-key"] == KEY
    assert request.headers["x-goog-user-project"] == "billing-1"
    assert "Authorization" not in request.headers
    assert request.path == "/v1beta/models/gemini-2.5-pro:generateContent"
    assert KEY not in str(request.url)
    # thoughts are output; the cached prompt tokens are priced at the cached rate
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (4, 7)
    assert reply.cost == pytest.approx((2 * 1.25 + 2 * 0.125 + 7 * 10.0) / 1e6)


async def test_a_bearer_token_is_sent_as_authorization(
    host: PluginHost, capture: tuple[str, list[web.Request]]
) -> None:
    url, seen = capture
    config = {"base_url": url, "auth": {"scheme": "bearer", "token": "env:GEMINI_TEST_KEY"}}
    async with Hub.from_dict({"connectors": {"gemini": config}}, host=host) as hub:
        await hub.model(f"gemini:{MODEL}").complete("hi")
    assert seen[0].headers["Authorization"] == f"Bearer {KEY}"
    assert "x-goog-api-key" not in seen[0].headers


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ({"api_version": "v2"}, "api_version"),
        ({"base_url": "generativelanguage.googleapis.com"}, "base_url"),
        ({"task_type": "SEARCH"}, "task_type"),
        ({"embedding_dimensions": 0}, "embedding_dimensions"),
        ({"thinking_budget": -5}, "thinking_budget"),
        ({"batch": {"max_size": 250}}, "max_size"),
        ({"auth": {"scheme": "api_key", "key": "env:GEMINI_TEST_KEY", "query": "key"}}, "query"),
    ],
)
def test_configuration_gemini_would_refuse_fails_at_load(
    host: PluginHost, table: dict[str, Any], key: str
) -> None:
    with pytest.raises(ConfigError) as info:
        Hub.from_dict({"connectors": {"gemini": table}}, host=host)
    assert info.value.key == key


async def test_unsupported_parameters_fail_before_any_request(
    make_hub: HubFactory, sim: Simulator
) -> None:
    async with make_hub() as hub:
        with pytest.raises(InvalidRequestError) as info:
            await hub.model(f"gemini:{MODEL}").complete("hi", logprobs=3)
        assert info.value.attempts == 0
        with pytest.raises(InvalidRequestError):
            await asyncio.wait_for(hub.model(f"gemini:{MODEL}").embed("x", task_type="NOPE"), 5)
    assert sim.stats().requests == 0


async def test_enforced_limits_answer_in_gemini_shapes(host: PluginHost) -> None:
    """A request larger than the whole token limit is refused once as invalid_request; a
    request over the per-minute request limit is rate_limited with the bucket's wait."""
    limits = SimLimits(requests_per_minute=1, tokens_per_minute=200)
    async with Simulator("gemini", limits=limits, plugin_host=host) as sim:
        table = {
            "base_url": sim.base_url,
            "api_key": "env:GEMINI_TEST_KEY",
            "retry": {"max_attempts": 3, "initial": 0.01, "cap": 0.05, "max_hint": 5},
        }
        async with Hub.from_dict({"connectors": {"gemini": table}}, host=host) as hub:
            model = hub.model(f"gemini:{MODEL}")
            with pytest.raises(InvalidRequestError) as too_large:
                await model.complete("word " * 400)
            assert too_large.value.attempts == 1
            await model.complete("fits", max_tokens=20)
            with pytest.raises(RateLimitedError) as limited:
                await model.complete("one more", max_tokens=20)
    # a one-per-minute bucket asks for most of a minute: past max_hint, so not waited for
    assert limited.value.attempts == 1
    assert limited.value.retry_after is not None and limited.value.retry_after > 5
    assert sim.stats().limited == {"too_large": 1, "requests": 1}
