"""What the conformance suite needs from the simulator: it records what it read and what it
meant to send, answers every request with a forced error when asked, and can keep a stream
open between frames."""

from __future__ import annotations

import json
import time

import aiohttp
import pytest
from patchwire.plugins import PluginHost
from patchwire.testing.sim_wire import ErrorKind
from patchwire.testing.simulator import Simulator
from patchwire_acme.plugin import AcmePlugin

pytestmark = pytest.mark.integration  # a real server on loopback

BODY = {"model": "acme-small", "prompt": "record me", "max_tokens": 64}


@pytest.fixture
def acme(plugin_host: PluginHost) -> PluginHost:
    plugin_host.register(AcmePlugin(), "acme")
    return plugin_host


async def test_the_journal_holds_the_body_the_request_and_the_reply(acme: PluginHost) -> None:
    async with Simulator("acme", plugin_host=acme) as sim, aiohttp.ClientSession() as http:
        async with http.post(sim.base_url + "/generate", json=BODY) as response:
            answer = await response.json()
            request_id = response.headers["x-acme-request"]
    record = sim.journal[-1]
    assert json.loads(record.body) == BODY
    assert record.request.prompt == "record me"
    assert record.reply.text == answer["output"] and record.reply.request_id == request_id
    assert (record.reply.input_tokens, record.reply.output_tokens) == (
        answer["usage"]["in"],
        answer["usage"]["out"],
    )


@pytest.mark.parametrize(
    ("kind", "status", "hint"),
    [
        (ErrorKind.INVALID_REQUEST, 422, None),
        (ErrorKind.AUTH, 403, None),
        (ErrorKind.SERVER_ERROR, 409, None),
        (ErrorKind.RATE_LIMITED, None, 1.5),
    ],
)
async def test_a_forced_error_answers_every_request_until_cleared(
    acme: PluginHost, kind: ErrorKind, status: int | None, hint: float | None
) -> None:
    async with Simulator("acme", plugin_host=acme) as sim, aiohttp.ClientSession() as http:
        sim.force_error(kind, status=status, retry_after=hint)
        seen = []
        for _ in range(2):
            async with http.post(sim.base_url + "/generate", json=BODY) as response:
                seen.append((response.status, (await response.json())["error"]["type"]))
        sim.force_error(None)
        async with http.post(sim.base_url + "/generate", json=BODY) as response:
            after = response.status
    expected_status = status if status is not None else 429
    assert [s for s, _ in seen] == [expected_status, expected_status]
    assert after == 200
    assert [r.retry_after for r in sim.journal[:2]] == [hint, hint]
    assert all(r.reply is None for r in sim.journal[:2]) and sim.journal[2].reply is not None


async def test_stream_pause_keeps_the_stream_open_between_frames(acme: PluginHost) -> None:
    body = {**BODY, "stream": True}
    async with Simulator("acme", plugin_host=acme, stream_pause=0.05) as sim:
        async with aiohttp.ClientSession() as http:
            start = time.monotonic()
            async with http.post(sim.base_url + "/generate", json=body) as response:
                await response.read()
            elapsed = time.monotonic() - start
    frames = len(sim.journal[-1].reply.pieces) + 2  # pieces, the finish event, the end event
    assert elapsed >= 0.05 * (frames - 1)
