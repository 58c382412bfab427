"""The official google-genai SDK, pointed at the simulator, reads its answers as Gemini's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from patchwire.plugins import PluginHost
from patchwire.testing.simulator import FaultMix, Simulator
from patchwire_gemini.plugin import GeminiPlugin

genai = pytest.importorskip("google.genai")
from google.genai import errors, types  # noqa: E402

pytestmark = [
    pytest.mark.integration,  # real HTTP to the simulator on loopback
    pytest.mark.filterwarnings("ignore:Inheritance class AiohttpClientSession:DeprecationWarning"),
]

KEY = "sim-key-1"


@pytest.fixture
def host(plugin_host: PluginHost) -> PluginHost:
    plugin_host.register(GeminiPlugin(), "gemini")
    return plugin_host


@pytest.fixture
async def sim(host: PluginHost) -> AsyncIterator[Simulator]:
    async with Simulator("gemini", keys=[KEY], seed=3, plugin_host=host) as simulator:
        yield simulator


@pytest.fixture
async def sdk(sim: Simulator) -> AsyncIterator[Any]:
    """``sdk(key)``: the SDK's async client for the simulator; every one made is closed after."""
    made: list[Any] = []

    def make(key: str = KEY) -> Any:
        options = types.HttpOptions(base_url=sim.root_url, api_version="v1beta")
        made.append(genai.Client(api_key=key, http_options=options).aio)
        return made[-1]

    yield make
    for aio in made:
        await aio.aclose()


async def test_sdk_parses_a_generation(sdk: Any) -> None:
    reply = await sdk().models.generate_content(
        model="gemini-2.5-flash",
        contents="Tell me about the weather in Lisbon",
        config=types.GenerateContentConfig(
            system_instruction="Be brief.", max_output_tokens=200, temperature=0.0
        ),
    )
    assert reply.text is not None and "You said: Tell me about the weather in Lisbon" in reply.text
    assert reply.candidates[0].finish_reason == types.FinishReason.STOP
    usage = reply.usage_metadata
    assert usage.prompt_token_count > 0 and usage.candidates_token_count > 0
    assert usage.total_token_count == usage.prompt_token_count + usage.candidates_token_count


async def test_sdk_parses_a_stream_and_its_totals(sdk: Any) -> None:
    chunks = [
        chunk
        async for chunk in await sdk().models.generate_content_stream(
            model="gemini-2.5-flash", contents="Stream a reply to me"
        )
    ]
    assert len(chunks) > 2
    text = "".join(c.text or "" for c in chunks)
    assert text.endswith("You said: Stream a reply to me")
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert chunks[-1].usage_metadata.candidates_token_count > 0


async def test_sdk_parses_batch_embeddings(sdk: Any) -> None:
    reply = await sdk().models.embed_content(
        model="gemini-embedding-001",
        contents=["first text", "second text"],
        config=types.EmbedContentConfig(output_dimensionality=16, task_type="RETRIEVAL_DOCUMENT"),
    )
    assert [len(e.values) for e in reply.embeddings] == [16, 16]
    assert reply.embeddings[0].values != reply.embeddings[1].values


async def test_sdk_sees_an_unknown_key_as_api_key_invalid(sdk: Any) -> None:
    with pytest.raises(errors.ClientError) as info:
        await sdk("wrong-key").models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert (info.value.code, info.value.status) == (400, "INVALID_ARGUMENT")
    assert info.value.details["error"]["details"][0]["reason"] == "API_KEY_INVALID"


@pytest.mark.parametrize(
    ("faults", "error", "code", "status"),
    [
        (
            FaultMix(rate_limited=1.0, retry_after=2.5),
            errors.ClientError,
            429,
            "RESOURCE_EXHAUSTED",
        ),
        (FaultMix(quota_exhausted=1.0), errors.ClientError, 429, "RESOURCE_EXHAUSTED"),
        (FaultMix(overloaded=1.0), errors.ServerError, 503, "UNAVAILABLE"),
        (FaultMix(server_error=1.0), errors.ServerError, None, None),
    ],
)
async def test_sdk_reads_each_injected_error(
    sim: Simulator,
    sdk: Any,
    faults: FaultMix,
    error: type[Exception],
    code: int | None,
    status: str | None,
) -> None:
    sim.set_faults(faults)
    with pytest.raises(error) as info:
        await sdk().models.generate_content(model="gemini-2.5-flash", contents="hi")
    api_error: Any = info.value
    if code is not None:
        assert (api_error.code, api_error.status) == (code, status)
    assert api_error.message


async def test_sdk_reads_the_retry_delay_of_a_rate_limit(sim: Simulator, sdk: Any) -> None:
    sim.set_faults(FaultMix(rate_limited=1.0, retry_after=2.5))
    with pytest.raises(errors.ClientError) as info:
        await sdk().models.generate_content(model="gemini-2.5-flash", contents="hi")
    details = info.value.details["error"]["details"]
    assert {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "2.5s"} in details
