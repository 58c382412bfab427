"""The official anthropic SDK, pointed at the simulator, parses its answers and errors."""

from __future__ import annotations

import pytest
from patchwire.plugins import PluginHost
from patchwire.testing.simulator import FaultMix, Simulator

anthropic = pytest.importorskip("anthropic")
pytestmark = pytest.mark.integration


async def test_sdk_parses_messages_streams_and_errors(anthropic_host: PluginHost, key: str) -> None:
    async with Simulator("anthropic", plugin_host=anthropic_host, keys=[key]) as sim:
        client = anthropic.AsyncAnthropic(base_url=sim.root_url, api_key=key, max_retries=0)
        message = await client.messages.create(
            model="claude-haiku-4-5",
            max_tokens=64,
            messages=[{"role": "user", "content": "hello sdk"}],
        )
        assert (
            message.content[0].text
            and message.usage.input_tokens > 0
            and message.stop_reason == "end_turn"
        )
        async with client.messages.stream(
            model="claude-haiku-4-5",
            max_tokens=64,
            messages=[{"role": "user", "content": "stream"}],
        ) as stream:
            text = "".join([t async for t in stream.text_stream])
            final = await stream.get_final_message()
        assert text == final.content[0].text and final.usage.output_tokens > 0
        bad = anthropic.AsyncAnthropic(base_url=sim.root_url, api_key="not-the-key", max_retries=0)
        with pytest.raises(anthropic.AuthenticationError):
            await bad.messages.create(
                model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}]
            )
        sim.set_faults(FaultMix(rate_limited=1.0))
        with pytest.raises(anthropic.RateLimitError):
            await client.messages.create(
                model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}]
            )
        sim.set_faults(FaultMix(overloaded=1.0))
        with pytest.raises(anthropic.APIStatusError) as overloaded:
            await client.messages.create(
                model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}]
            )
        assert overloaded.value.status_code == 529
        sim.set_faults(FaultMix(server_error=1.0))
        with pytest.raises(anthropic.APIStatusError) as server:
            await client.messages.create(
                model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}]
            )
        assert server.value.status_code in (500, 504)
        sim.set_faults(FaultMix(malformed=1.0))  # this wire's malformed stream: event: error
        got: list[str] = []
        with pytest.raises(anthropic.APIStatusError) as broken:
            async with client.messages.stream(
                model="claude-haiku-4-5",
                max_tokens=64,
                messages=[{"role": "user", "content": "a long story"}],
            ) as stream:
                async for piece in stream.text_stream:
                    got.append(piece)
        assert got and broken.value.body["error"]["type"] == "overloaded_error"
        await client.close()
        await bad.close()
