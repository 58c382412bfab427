"""End-to-end through the Hub with the fake connector on the virtual clock."""

from __future__ import annotations

import random

import pytest
from patchwire.errors import InvalidRequestError, TransientError
from patchwire.hub import Hub
from patchwire.testing import FakeScript


async def test_complete_retries_transient_then_succeeds(plugin_host, virtual_clock, fake_scripts):
    script = fake_scripts.setdefault("fake", FakeScript())
    script.push(TransientError("boom"), TransientError("boom"), "hello")
    hub = Hub.from_dict(
        {"connectors": {"fake": {"retry": {"initial": 1, "cap": 4}}}},
        host=plugin_host,
        clock=virtual_clock,
        seed=1,
    )
    async with hub:
        reply = await hub.model("fake:m1").complete("hi")
    assert reply.text == "hello"
    assert reply.attempts == 3
    assert len(script.calls) == 3


async def test_invalid_request_not_retried(plugin_host, virtual_clock, fake_scripts):
    script = fake_scripts.setdefault("fake", FakeScript())
    script.push(InvalidRequestError("bad"))
    hub = Hub.from_dict({}, host=plugin_host, clock=virtual_clock)
    async with hub:
        with pytest.raises(InvalidRequestError) as info:
            await hub.model("fake:m1").complete("hi")
    assert info.value.attempts == 1
    assert len(script.calls) == 1


async def test_unseeded_hub_draws_its_jitter_from_the_random_module(plugin_host, fake_scripts):
    """Invariant: seeding `random` fixes an unseeded Hub's retry schedule (tests rely on it)."""
    from patchwire.clock import VirtualClock

    async def elapsed_after_retries() -> float:
        clock = VirtualClock()
        script = fake_scripts.setdefault("fake", FakeScript())
        script.push(*[TransientError("boom")] * 4, "hello")
        hub = Hub.from_dict(
            {"connectors": {"fake": {"retry": {"max_attempts": 5, "initial": 1, "cap": 60}}}},
            host=plugin_host,
            clock=clock,
        )
        async with hub:
            assert (await hub.model("fake:m1").complete("hi")).text == "hello"
        return clock.now()

    random.seed(5)
    first = await elapsed_after_retries()
    random.seed(5)
    assert await elapsed_after_retries() == first
    random.seed(6)
    assert await elapsed_after_retries() != first
