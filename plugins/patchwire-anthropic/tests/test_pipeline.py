"""Through the whole pipeline against the Anthropic simulator on loopback (integration:
real sockets, the real clock, short timeouts)."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from patchwire.errors import DegradedError, PatchwireError, QuotaExhaustedError
from patchwire.events import EventKind
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.testing.simulator import FaultMix, SimLimits, Simulator

pytestmark = pytest.mark.integration


def table(sim: Simulator, **extra: Any) -> dict[str, Any]:
    return {
        "anthropic": {
            "base_url": sim.base_url,
            "api_key": "env:ANTHROPIC_SIM_KEY",
            "timeout": 2,
            "retry": {"max_attempts": 3, "initial": 0.01, "cap": 0.05},
            "cache": {"ttl": 0},
            **extra,
        }
    }


async def test_reply_stream_and_usage(anthropic_host: PluginHost, key: str) -> None:
    async with Simulator("anthropic", plugin_host=anthropic_host, keys=[key]) as sim:
        async with Hub.from_dict({"connectors": table(sim)}, host=anthropic_host) as hub:
            model = hub.model("anthropic:claude-haiku-4-5")
            reply = await model.complete(
                [{"role": "system", "content": "brief"}, {"role": "user", "content": "hello"}]
            )
            same = await model.complete("hello", max_tokens=50)
            chunks = [c async for c in model.stream("hello", max_tokens=50)]
    assert "hello" in reply.text and reply.usage.input_tokens > 0 and reply.finish_reason == "stop"
    assert reply.request_id and reply.cost is not None and reply.cost > 0
    assert "".join(c.text for c in chunks) == same.text  # the stream spells the same answer
    assert chunks[-1].usage is not None and chunks[-1].usage.output_tokens > 0


async def test_error_event_after_200_ends_the_stream_classified_without_duplicates(
    anthropic_host: PluginHost, key: str
) -> None:
    async with Simulator(
        "anthropic", faults=FaultMix(malformed=1.0), plugin_host=anthropic_host
    ) as sim:
        async with Hub.from_dict({"connectors": table(sim)}, host=anthropic_host) as hub:
            got: list[str] = []
            with pytest.raises(DegradedError) as info:
                async for chunk in hub.model("anthropic:claude-haiku-4-5").stream(
                    "tell me a long story", max_tokens=200
                ):
                    got.append(chunk.text)
            requests = sim.stats().requests
    assert got and len(got) == 1  # the one piece sent before the error, once
    assert "after it started" in info.value.message and requests == 1  # never replayed


async def test_overloaded_529_falls_back_and_rate_limits_are_honoured(
    anthropic_host: PluginHost, key: str
) -> None:
    async with (
        Simulator("anthropic", faults=FaultMix(overloaded=1.0), plugin_host=anthropic_host) as busy,
        Simulator(
            "anthropic",
            faults=FaultMix(rate_limited=1.0, retry_after=1.0),
            plugin_host=anthropic_host,
        ) as slow,
    ):
        config = {
            "connectors": {
                **table(busy),
                "slow": {**table(slow)["anthropic"], "type": "anthropic"},
            },
            "routes": {"r": {"targets": ["anthropic:claude-haiku-4-5", "slow:claude-haiku-4-5"]}},
        }
        async with Hub.from_dict(config, host=anthropic_host) as hub:
            start = time.monotonic()
            with pytest.raises(PatchwireError):
                await hub.model("r").complete("hi", timeout=10)
            gaps = [r.arrived for r in slow.journal]
    assert busy.stats().by_status == {529: 1}  # overload moves on at once
    assert len(gaps) == 3 and all(b - a >= 0.99 for a, b in itertools.pairwise(gaps))
    assert time.monotonic() - start >= 2


async def test_billing_error_is_quota_exhausted_with_one_attempt(
    anthropic_host: PluginHost, key: str
) -> None:
    async with Simulator(
        "anthropic", faults=FaultMix(quota_exhausted=1.0), plugin_host=anthropic_host
    ) as sim:
        async with Hub.from_dict({"connectors": table(sim)}, host=anthropic_host) as hub:
            with pytest.raises(QuotaExhaustedError) as info:
                await hub.model("anthropic:claude-haiku-4-5").complete("hi")
    assert info.value.attempts == 1 and info.value.status == 402 and info.value.request_id


async def test_rate_limit_headers_reach_the_limiter_and_bearer_auth_works(
    anthropic_host: PluginHost, key: str
) -> None:
    async with Simulator(
        "anthropic",
        limits=SimLimits(requests_per_minute=100),
        plugin_host=anthropic_host,
        keys=[key],
    ) as sim:
        bearer = {
            "auth": {"scheme": "bearer", "token": "env:ANTHROPIC_SIM_KEY"},
            "limits": {"requests_per_minute": 1000},
        }
        async with Hub.from_dict({"connectors": table(sim, **bearer)}, host=anthropic_host) as hub:
            events: list[Any] = []
            hub.bus.add("t", events.append)
            await hub.model("anthropic:claude-haiku-4-5").complete("hi")
    quota = [e for e in events if e.kind is EventKind.QUOTA_REPORTED]
    assert (
        quota
        and quota[0].data["requests_limit"] == 100
        and quota[0].data["requests_remaining"] == 99
    )
    assert 0 <= quota[0].data["requests_reset"] <= 61


async def test_simulator_answers_fit_the_spec(
    anthropic_host: PluginHost, key: str, validate: Callable[[str, Any], None]
) -> None:
    async with Simulator("anthropic", plugin_host=anthropic_host, keys=[key]) as sim:
        url = sim.base_url + "/messages"
        headers = {"x-api-key": key, "anthropic-version": "2026-10-21"}
        body = {
            "model": "claude-haiku-4-5",
            "max_tokens": 64,
            "messages": [{"role": "user", "content": "hi"}],
        }
        async with aiohttp.ClientSession() as session:
            async with session.post(url, json=body, headers=headers) as resp:
                validate("Message", await resp.json())
            async with session.post(url, json=body, headers={"x-api-key": "wrong"}) as resp:
                assert resp.status == 401
                validate("ErrorResponse", await resp.json())
            async with session.post(url, json={**body, "stream": True}, headers=headers) as resp:
                frames = [
                    line[6:]
                    for line in (await resp.text()).splitlines()
                    if line.startswith("data: ")
                ]
    kinds = [json.loads(f)["type"] for f in frames]
    assert (
        kinds[0] == "message_start"
        and kinds[-1] == "message_stop"
        and "content_block_delta" in kinds
    )
    validate("Message", json.loads(frames[0])["message"])
