"""The openai connector through patchwire's whole pipeline against the simulator's faults.

Real loopback HTTP on the real clock (a server cannot run on a virtual one), with short
timeouts and small hints so the file stays fast.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from patchwire.errors import (
    Category,
    DegradedError,
    IntegrationError,
    InvalidRequestError,
    PatchwireError,
    QuotaExhaustedError,
    TransientError,
)
from patchwire.events import Event, EventKind
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.testing.simulator import FaultMix, SimLimits, Simulator
from patchwire.types import StreamChunk

pytestmark = pytest.mark.integration  # real server, real clock

MODEL = "openai:gpt-4o-mini"
EMBEDDER = "openai:text-embedding-3-small"


def make_hub(sim: Simulator, host: PluginHost, **table: Any) -> Hub:
    connector = {
        "base_url": sim.base_url,
        "api_key": "env:OPENAI_SIM_KEY",
        # Generous, so a loaded machine cannot turn an answer into a timeout and change the
        # attempt counts asserted here; the tests of hangs set their own short timeouts.
        "timeout": 5.0,
        "embed_timeout": 5.0,
        "retry": {"max_attempts": 3, "initial": 0.01, "cap": 0.05, "deadline": 20},
        "breaker": {"enabled": False},
        "cache": {"ttl": 0},
        **table,
    }
    return Hub.from_dict({"connectors": {"openai": connector}}, host=host)


@pytest.fixture
async def sim(openai_host: PluginHost, sim_key: str) -> AsyncIterator[Simulator]:
    async with Simulator("openai", plugin_host=openai_host, seed=11) as running:
        yield running


async def drain(hub: Hub, prompt: str) -> tuple[list[StreamChunk], PatchwireError | None]:
    chunks: list[StreamChunk] = []
    try:
        async for chunk in hub.model(MODEL).stream(prompt, max_tokens=60):
            chunks.append(chunk)
    except PatchwireError as error:
        return chunks, error
    return chunks, None


def heal_after_first_failure(hub: Hub, sim: Simulator) -> list[Event]:
    """Clear the simulator's faults once an attempt has failed: the retry then succeeds."""
    events: list[Event] = []

    def sink(event: Event) -> None:
        events.append(event)
        if event.kind is EventKind.ATTEMPT_FAILED:
            sim.set_faults(FaultMix())

    hub.bus.add("heal", sink)
    return events


async def test_no_call_is_lost_under_every_fault_at_once(
    sim: Simulator, openai_host: PluginHost
) -> None:
    """Invariant: submitted = succeeded + failed with a classified PatchwireError; lost = 0."""
    sim.set_faults(
        FaultMix(
            server_error=0.1,
            rate_limited=0.08,
            quota_exhausted=0.03,
            overloaded=0.05,
            reset=0.05,
            hang=0.03,
            malformed=0.04,
            truncated=0.05,
            broken_stream=0.1,
            retry_after=0.02,
            latency=0.002,
        )
    )
    outcomes: list[Any] = []
    # Short timeouts cut the hangs; a timeout load causes only moves a call between the two
    # outcomes this test counts.
    async with make_hub(sim, openai_host, timeout=0.5, embed_timeout=0.5) as hub:

        async def complete(i: int) -> Any:
            return await hub.model(MODEL).complete(f"question {i}", max_tokens=30)

        async def stream(i: int) -> Any:
            chunks, error = await drain(hub, f"stream {i}")
            if error is not None:
                raise error
            return chunks

        async def embed(i: int) -> Any:
            return await hub.model(EMBEDDER).embed(f"document {i}")

        calls = [complete(i) for i in range(60)]
        calls += [stream(i) for i in range(40)]
        calls += [embed(i) for i in range(40)]
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
        # Which request draws which fault depends on arrival order, which depends on machine
        # load: the random phase asserts conservation only. Then every kind is scripted (each
        # one on every attempt of one call, then none), so each kind and both outcomes happen
        # whatever the scheduling was.
        scripted = ["server_error", "rate_limited", "reset", "malformed", "broken_stream"]
        for kind in scripted:
            sim.set_faults(FaultMix(**{kind: 1.0}, retry_after=0.02))
            call = stream(1000) if kind == "broken_stream" else complete(1000)
            outcomes += await asyncio.gather(call, return_exceptions=True)
        sim.set_faults(FaultMix())
        outcomes += await asyncio.gather(complete(1001), stream(1002), return_exceptions=True)
    succeeded = sum(not isinstance(o, BaseException) for o in outcomes)
    failed = [o for o in outcomes if isinstance(o, PatchwireError)]
    assert succeeded + len(failed) == len(outcomes) == 140 + len(scripted) + 2, [
        o for o in outcomes if isinstance(o, BaseException) and not isinstance(o, PatchwireError)
    ]
    assert all(isinstance(o, PatchwireError) for o in outcomes[140 : 140 + len(scripted)])
    assert not any(isinstance(o, BaseException) for o in outcomes[-2:])
    for error in failed:
        assert error.connector == "openai" and error.attempts >= 1
        if error.status is not None and error.status >= 400:
            assert error.request_id is not None and error.request_id.startswith("req_")
    assert set(sim.stats().faults) >= set(scripted)


async def test_a_rate_limit_is_retried_after_its_hint(
    sim: Simulator, openai_host: PluginHost
) -> None:
    sim.set_faults(FaultMix(rate_limited=1.0, retry_after=0.08))
    async with make_hub(sim, openai_host) as hub:
        events = heal_after_first_failure(hub, sim)
        reply = await hub.model(MODEL).complete("please wait")
    assert reply.attempts == 2
    limited = sim.journal[0]
    assert limited.status == 429 and limited.retry_after is not None
    retry = next(e for e in events if e.kind is EventKind.RETRY_SCHEDULED)
    assert retry.category == "rate_limited"
    # Measured where the hint was given: the retry reaches the server no sooner than the hint
    # allows after the 429 arrived. (The client's own wait can be shorter: an HTTP-date hint
    # is a moment, and the time the reply spent reaching a loaded client already counts.)
    retried = sim.journal[1]
    assert retried.arrived - limited.arrived >= limited.retry_after - 0.002


async def test_insufficient_quota_fails_at_once(sim: Simulator, openai_host: PluginHost) -> None:
    sim.set_faults(FaultMix(quota_exhausted=1.0))
    async with make_hub(sim, openai_host) as hub:
        with pytest.raises(QuotaExhaustedError) as info:
            await hub.model(MODEL).complete("out of credit")
    assert info.value.attempts == 1 and info.value.code == "insufficient_quota"
    assert info.value.status == 429 and info.value.request_id == sim.journal[0].request_id
    assert sim.stats().requests == 1


async def test_a_request_larger_than_the_whole_limit_fails_at_once(
    openai_host: PluginHost, sim_key: str
) -> None:
    async with Simulator(
        "openai", limits=SimLimits(tokens_per_minute=100), plugin_host=openai_host
    ) as sim:
        async with make_hub(sim, openai_host) as hub:
            with pytest.raises(InvalidRequestError) as info:
                await hub.model(MODEL).complete("a long essay, please", max_tokens=500)
        assert info.value.attempts == 1 and info.value.status == 429
        assert "Request too large" in info.value.message
        assert sim.stats().requests == 1 and sim.stats().limited == {"too_large": 1}


async def test_retry_after_is_honoured_in_every_hint_form(
    sim: Simulator, openai_host: PluginHost
) -> None:
    """Invariant: the next attempt never starts before the wait the 429 asked for, whether it
    came as retry-after-ms, retry-after seconds, an HTTP date or only the message text."""
    async with make_hub(sim, openai_host) as hub:
        heal_after_first_failure(hub, sim)
        for i in range(8):
            sim.set_faults(FaultMix(rate_limited=1.0, retry_after=0.2))
            reply = await hub.model(MODEL).complete(f"hinted {i}")
            assert reply.attempts == 2
    journal = sim.journal
    assert [r.status for r in journal] == [429, 200] * 8
    for limited, retried in zip(journal[::2], journal[1::2], strict=True):
        assert limited.answered is not None and limited.retry_after is not None
        # the date form asks for up to a second more; HTTP dates have whole seconds
        assert limited.retry_after >= 0.2
        # from the 429's arrival, where the hint was measured: its answer may leave later
        assert retried.arrived - limited.arrived >= limited.retry_after - 0.002


async def test_a_stream_broken_after_its_first_chunk_ends_classified_without_duplicates(
    sim: Simulator, openai_host: PluginHost
) -> None:
    async with make_hub(sim, openai_host) as hub:
        whole, error = await drain(hub, "tell me a story")
        assert error is None and whole[-1].usage is not None
        full = "".join(c.text for c in whole)
        sim.set_faults(FaultMix(broken_stream=1.0))
        for _ in range(5):
            before = sim.stats().requests
            chunks, error = await drain(hub, "tell me a story")
            text = "".join(c.text for c in chunks)
            assert isinstance(error, TransientError)
            assert error.message.startswith("stream broke after it started")
            assert error.attempts == 1 and sim.stats().requests == before + 1
            assert text and full.startswith(text) and text != full
            assert all(c.usage is None for c in chunks)


async def test_a_stream_that_stops_without_finishing_is_an_error(
    sim: Simulator, openai_host: PluginHost
) -> None:
    sim.set_faults(FaultMix(truncated=1.0))
    async with make_hub(sim, openai_host) as hub:
        chunks, error = await drain(hub, "tell me a story")
    assert isinstance(error, TransientError) and chunks


async def test_a_hang_ends_at_the_attempt_timeout(sim: Simulator, openai_host: PluginHost) -> None:
    sim.set_faults(FaultMix(hang=1.0))
    async with make_hub(
        sim, openai_host, timeout=0.3, retry={"max_attempts": 2, "initial": 0.01}
    ) as hub:
        started = time.monotonic()
        with pytest.raises(DegradedError) as info:
            await hub.model(MODEL).complete("anyone there?")
        elapsed = time.monotonic() - started
    assert info.value.attempts == 2
    # Two attempts each cut at 0.3 s; the hang itself never ends (upper bound loose for load).
    assert 0.6 <= elapsed < 30


@pytest.mark.parametrize(
    ("fault", "error", "attempts"),
    [
        ("reset", TransientError, 3),
        ("truncated", TransientError, 3),
        ("malformed", IntegrationError, 1),
        ("server_error", TransientError, 3),
        ("overloaded", DegradedError, 3),
    ],
)
async def test_each_fault_becomes_its_category(
    sim: Simulator,
    openai_host: PluginHost,
    fault: str,
    error: type[PatchwireError],
    attempts: int,
) -> None:
    sim.set_faults(FaultMix(**{fault: 1.0}, retry_after=0.01))
    async with make_hub(sim, openai_host) as hub:
        for call in (
            hub.model(MODEL).complete("x"),
            hub.model(EMBEDDER).embed("x"),
        ):
            with pytest.raises(error) as info:
                await call
            assert info.value.attempts == attempts
    assert sim.stats().faults == {fault: 2 * attempts}


async def test_malformed_streams_are_integration_errors(
    sim: Simulator, openai_host: PluginHost
) -> None:
    sim.set_faults(FaultMix(malformed=1.0))
    async with make_hub(sim, openai_host) as hub:
        chunks, error = await drain(hub, "x")
    assert isinstance(error, IntegrationError) and error.category is Category.INTEGRATION
    assert chunks == [] and error.attempts == 1


async def test_request_ids_and_rate_limit_headers_reach_patchwire(
    openai_host: PluginHost, sim_key: str
) -> None:
    limits = SimLimits(requests_per_minute=600, tokens_per_minute=100_000)
    async with Simulator("openai", limits=limits, plugin_host=openai_host) as sim:
        hub = make_hub(sim, openai_host, limits={"requests_per_minute": 1000})
        events: list[Event] = []
        hub.bus.add("events", events.append)
        async with hub:
            reply = await hub.model(MODEL).complete("count me")
            await hub.model(EMBEDDER).embed_many(["a", "b"], encoding_format="base64")
    assert reply.request_id == sim.journal[0].request_id
    quotas = [e.data for e in events if e.kind is EventKind.QUOTA_REPORTED]
    assert len(quotas) >= 2  # the completion, then the embedding batch(es)
    assert quotas[0]["requests_limit"] == 600 and quotas[0]["tokens_limit"] == 100_000
    assert quotas[0]["requests_remaining"] == 599
    assert 0 < quotas[0]["requests_reset"] <= 0.2
