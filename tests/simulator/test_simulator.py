"""The simulator server, with the toy wire format: faults as a client meets them, per-key
limits with headers, keys, stats and reproducibility. Real loopback HTTP."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from multidict import CIMultiDict
from patchwire.errors import ConfigError
from patchwire.plugins import PluginHost
from patchwire.testing.simulator import FaultMix, SimLimits, Simulator
from simtoy import ToyWire

pytestmark = pytest.mark.integration  # a real server on loopback


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as s:
        yield s


async def chat(
    session: aiohttp.ClientSession, sim: Simulator, key: str | None = "k", **body: Any
) -> tuple[int, CIMultiDict[str], bytes]:
    headers = {"x-toy-key": key} if key is not None else {}
    payload = {"model": "toy-1", "prompt": "hello simulated world", **body}
    async with session.post(sim.base_url + "/chat", json=payload, headers=headers) as resp:
        return resp.status, resp.headers.copy(), await resp.read()


async def test_wire_found_by_name_answers_and_counts(
    toy_host: PluginHost, session: aiohttp.ClientSession
) -> None:
    async with Simulator("toy", plugin_host=toy_host) as sim:
        assert sim.base_url == f"http://127.0.0.1:{sim.port}/toy"
        status, headers, body = await chat(session, sim)
        async with session.post(
            sim.base_url + "/embed", json={"model": "toy-1", "inputs": ["a", "b"]}
        ) as resp:
            vectors = (await resp.json())["vectors"]
        async with session.get(sim.root_url + "/stats") as resp:
            served = await resp.json()
    assert status == 200 and headers["x-toy-request"].startswith("req_")
    reply = json.loads(body)
    assert reply["text"].endswith("You said: hello simulated world")
    assert reply["usage"] == [6, 19]
    assert [len(v) for v in vectors] == [8, 8]
    assert served["requests"] == 2
    assert served["by_path"] == {"/toy/chat": 1, "/toy/embed": 1}
    assert served["by_status"] == {"200": 2}
    assert served["input_tokens"] == 6 + 2 and served["output_tokens"] == 19
    assert sim.stats().to_dict() == served


def test_unknown_wire_is_a_config_error_naming_the_installed_ones(toy_host: PluginHost) -> None:
    with pytest.raises(ConfigError, match=r"no simulator named 'nope'.*installed: toy"):
        Simulator("nope", plugin_host=toy_host)


async def test_base_url_needs_a_started_simulator() -> None:
    sim = Simulator(ToyWire())
    with pytest.raises(RuntimeError, match="not started"):
        _ = sim.base_url


async def test_same_seed_same_faults_in_the_same_order(session: aiohttp.ClientSession) -> None:
    """Invariant: for a seed and a request order, every request gets the same fault and request id."""
    mix = FaultMix(server_error=0.3, rate_limited=0.2, quota_exhausted=0.1, malformed=0.1)
    runs = []
    for _ in range(2):
        async with Simulator(ToyWire(), faults=mix, seed=42) as sim:
            for _ in range(30):
                await chat(session, sim)
            runs.append([(r.fault, r.status, r.request_id) for r in sim.journal])
    assert runs[0] == runs[1]
    assert {fault for fault, _, _ in runs[0]} >= {"server_error", "rate_limited", None}


async def test_error_faults_answer_in_the_wire_shape(session: aiohttp.ClientSession) -> None:
    cases = [
        ("server_error", 500, "server_error"),
        ("rate_limited", 429, "rate_limited"),
        ("quota_exhausted", 402, "quota_exhausted"),
        ("overloaded", 503, "overloaded"),
    ]
    async with Simulator(ToyWire()) as sim:
        for field, status, kind in cases:
            sim.set_faults(FaultMix(**{field: 1.0}, retry_after=0.25))
            got, headers, body = await chat(session, sim)
            assert got == status
            assert json.loads(body)["error"]["kind"] == kind
            hinted = field in ("rate_limited", "overloaded")
            assert ("retry-after" in headers) == hinted
        assert [r.retry_after for r in sim.journal] == [None, 0.25, None, 0.25]
        assert sim.stats().faults == {k: 1 for k, _, _ in cases}


async def test_reset_closes_the_connection_without_an_answer(
    session: aiohttp.ClientSession,
) -> None:
    async with Simulator(ToyWire(), faults=FaultMix(reset=1.0)) as sim:
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await chat(session, sim)
        assert sim.journal[0].status is None and sim.journal[0].fault == "reset"


async def test_hang_never_answers_and_close_does_not_wait_for_it() -> None:
    async with Simulator(ToyWire(), faults=FaultMix(hang=1.0)) as sim:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.3)) as s:
            with pytest.raises(asyncio.TimeoutError):
                await chat(s, sim)
        # a second hang still pending while the simulator closes
        pending = asyncio.ensure_future(chat(aiohttp.ClientSession(), sim))
        while len(sim.journal) < 2:  # the request has arrived, however loaded the machine
            await asyncio.sleep(0.01)
        started = time.monotonic()
    # The hang lasts an hour: any bound far below it shows close did not wait (not a speed test).
    assert time.monotonic() - started < 30
    with pytest.raises(aiohttp.ClientError):
        await pending
    assert [r.answered for r in sim.journal] == [None, None]


async def test_malformed_body_is_a_200_that_does_not_parse(
    session: aiohttp.ClientSession,
) -> None:
    async with Simulator(ToyWire(), faults=FaultMix(malformed=1.0)) as sim:
        status, _, body = await chat(session, sim)
    assert status == 200
    with pytest.raises(ValueError):
        json.loads(body)


async def test_truncated_body_is_shorter_than_its_content_length(
    session: aiohttp.ClientSession,
) -> None:
    async with Simulator(ToyWire(), faults=FaultMix(truncated=1.0)) as sim:
        with pytest.raises(aiohttp.ClientPayloadError):
            await chat(session, sim)


async def stream_frames(
    session: aiohttp.ClientSession, sim: Simulator
) -> tuple[list[bytes], BaseException | None]:
    frames: list[bytes] = []
    payload = {"model": "toy-1", "prompt": "one two three four five", "stream": True}
    try:
        async with session.post(sim.base_url + "/chat", json=payload) as resp:
            buffer = b""
            async for chunk in resp.content.iter_any():
                buffer += chunk
            frames = [f for f in buffer.split(b"\n\n") if f]
    except aiohttp.ClientPayloadError as exc:
        return frames, exc
    return frames, None


async def test_streams_whole_broken_and_truncated(session: aiohttp.ClientSession) -> None:
    async with Simulator(ToyWire()) as sim:
        whole, error = await stream_frames(session, sim)
        assert error is None and whole[0] == b"data: start" and whole[-1] == b"data: end"
        pieces = len(whole) - 2
        sim.set_faults(FaultMix(broken_stream=1.0))
        for _ in range(5):
            _, error = await stream_frames(session, sim)
            assert isinstance(error, aiohttp.ClientPayloadError)
        sim.set_faults(FaultMix(truncated=1.0))
        cut, error = await stream_frames(session, sim)
        assert error is None and cut[0] == b"data: start" and 1 < len(cut) < pieces + 1
        assert cut[-1] != b"data: end"
        sim.set_faults(FaultMix(malformed=1.0))
        bad, error = await stream_frames(session, sim)
        assert error is None and bad == [b"data: start", b"data: {oops"]


async def test_broken_stream_only_breaks_streams(session: aiohttp.ClientSession) -> None:
    async with Simulator(ToyWire(), faults=FaultMix(broken_stream=1.0)) as sim:
        status, _, _ = await chat(session, sim)
    assert status == 200 and sim.journal[0].fault is None


async def test_keys_refuse_unknown_and_missing_credentials(
    session: aiohttp.ClientSession,
) -> None:
    async with Simulator(ToyWire(), keys=["good"]) as sim:
        ok, _, _ = await chat(session, sim, key="good")
        bad, _, body = await chat(session, sim, key="bad")
        missing, _, body_missing = await chat(session, sim, key=None)
    assert (ok, bad, missing) == (200, 401, 401)
    assert json.loads(body)["error"]["message"] == "unknown credential"
    assert json.loads(body_missing)["error"]["message"] == "missing credential"


async def test_limits_per_key_with_headers_and_waits(session: aiohttp.ClientSession) -> None:
    limits = SimLimits(requests_per_minute=2, tokens_per_minute=1000)
    async with Simulator(ToyWire(), limits=limits) as sim:
        answers = [await chat(session, sim, key="a") for _ in range(3)]
        other, _, _ = await chat(session, sim, key="b")
        large, _, body = await chat(session, sim, key="c", max_tokens=5000)
    statuses = [status for status, _, _ in answers]
    assert statuses == [200, 200, 429] and other == 200
    first, third = answers[0][1], answers[2][1]
    assert first["x-toy-requests-limit"] == "2" and first["x-toy-requests-remaining"] == "1"
    assert third["x-toy-requests-remaining"] == "0"
    assert 29 < float(third["retry-after"]) <= 30  # one request back at 2 per minute
    assert large == 413 and json.loads(body)["error"]["kind"] == "too_large"
    assert sim.stats().limited == {"requests": 1, "too_large": 1}
    assert [r.limited for r in sim.journal] == [None, None, "requests", None, "too_large"]


async def test_latency_is_added_to_each_answer(session: aiohttp.ClientSession) -> None:
    async with Simulator(ToyWire(), faults=FaultMix(latency=0.15, latency_jitter=0.05)) as sim:
        started = time.monotonic()
        await chat(session, sim)
        elapsed = time.monotonic() - started
    assert elapsed >= 0.1


async def test_unknown_path_and_bad_body_are_answered_by_the_wire(
    session: aiohttp.ClientSession,
) -> None:
    async with Simulator(ToyWire()) as sim:
        async with session.post(sim.base_url + "/nowhere", json={}) as resp:
            missing = resp.status, await resp.json()
        async with session.post(sim.base_url + "/chat", data=b"not json") as resp:
            bad = resp.status, await resp.json()
    assert missing == (404, {"error": {"kind": "not_found", "message": "no such endpoint"}})
    assert bad == (400, {"error": {"kind": "invalid_request", "message": "not JSON"}})
