"""A streamed structured answer that fails validation is counted like a complete one
(issue 15): once in the metrics' ``invalid_outputs`` of the connector:model that streamed
it, and the caller gets the classified ``integration`` error with the raw text and the
validation message.

Each provider's simulator on loopback streams its real delta events; ``break_schema``
makes its first structured answer break the schema.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from patchwire import Hub, OutputValidationError
from patchwire.errors import Category
from patchwire.plugins import default_host
from patchwire.testing.sim_wire import ErrorKind
from patchwire.testing.simulator import Simulator

pytestmark = pytest.mark.integration  # real HTTP to the simulators on 127.0.0.1

MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-haiku-4-5", "gemini": "gemini-2.0-flash"}
SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
    "additionalProperties": False,
}


def connector(provider: str, sim: Simulator) -> dict[str, Any]:
    return {
        "type": provider,
        "base_url": sim.base_url,
        "api_key": "env:PW_STREAM_OUTPUT_KEY",
        "retry": {"max_attempts": 1},
        "breaker": {"enabled": False},
    }


@asynccontextmanager
async def provider_hub(provider: str, **simulator: Any) -> AsyncIterator[tuple[Hub, Simulator]]:
    if provider not in default_host().registries.simulators:
        pytest.skip(f"patchwire-{provider} is not installed")
    async with Simulator(provider, **simulator) as sim:
        async with Hub.from_dict({"connectors": {"llm": connector(provider, sim)}}) as hub:
            yield hub, sim


@pytest.fixture(autouse=True)
def sim_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PW_STREAM_OUTPUT_KEY", "sim-key-0000")


async def drain(hub: Hub, name: str) -> list[Any]:
    return [c async for c in hub.model(name).stream("forecast", output=SCHEMA)]


@pytest.mark.parametrize("provider", sorted(MODELS))
async def test_a_streamed_answer_that_breaks_its_schema_counts_once_as_an_invalid_output(
    provider: str,
) -> None:
    model = MODELS[provider]
    async with provider_hub(provider, break_schema=1) as (hub, sim):
        with pytest.raises(OutputValidationError) as caught:
            await drain(hub, f"llm:{model}")
        failed = hub.metrics().for_model("llm", model)
        # The simulator breaks only its first structured answer: the next stream parses.
        chunks = await drain(hub, f"llm:{model}")
        after = hub.metrics().for_model("llm", model)
    error = caught.value
    assert error.category is Category.INTEGRATION
    assert error.connector == "llm" and error.model == model
    assert error.raw_text and error.validation_message
    assert dict(failed.invalid_outputs) == {"output": 1}
    assert failed.attempt_errors.get("integration") == 1
    assert set(chunks[-1].parsed) == {"city"}
    assert dict(after.invalid_outputs) == {"output": 1}  # a stream that parses adds nothing
    assert len(sim.journal) == 2


async def test_a_streamed_answer_is_counted_on_the_route_target_that_streamed_it() -> None:
    async with (
        Simulator("openai") as down,
        Simulator("openai", break_schema=1) as up,
    ):
        down.force_error(ErrorKind.OVERLOADED)
        config = {
            "connectors": {"a": connector("openai", down), "b": connector("openai", up)},
            "routes": {"chat": {"targets": ["a:gpt-4o-mini", "b:gpt-4.1"]}},
        }
        async with Hub.from_dict(config) as hub:
            with pytest.raises(OutputValidationError) as caught:
                await drain(hub, "chat")
            snapshot = hub.metrics()
    assert (caught.value.connector, caught.value.model) == ("b", "gpt-4.1")
    assert dict(snapshot.for_model("b", "gpt-4.1").invalid_outputs) == {"output": 1}
    assert dict(snapshot.for_model("a", "gpt-4o-mini").invalid_outputs) == {}
    assert len(down.journal) == 1 and len(up.journal) == 1
