"""The sampling budget as a policy: whatever a server asks, the hub's model is called at
most ``max_requests`` times and never asked for more tokens than the budget has left. The
model is a stand-in that answers with exactly the tokens it was allowed."""

from __future__ import annotations

import logging
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from mcp import types
from patchwire.types import Completion, Usage
from patchwire_mcp.sampling import SamplingBudget, sampling_callback


class Model:
    name = "writer:small"

    def __init__(self) -> None:
        self.asked: list[int] = []

    async def complete(self, messages: Any, **options: Any) -> Completion:
        self.asked.append(options["max_tokens"])
        used = Usage(input_tokens=3, output_tokens=options["max_tokens"])
        return Completion(text="ok", usage=used, model="small", finish_reason="length")


def request(max_tokens: int) -> types.CreateMessageRequestParams:
    return types.CreateMessageRequestParams.model_validate(
        {
            "messages": [{"role": "user", "content": {"type": "text", "text": "hi"}}],
            "maxTokens": max_tokens,
        }
    )


@settings(max_examples=200, deadline=None)
@given(
    asks=st.lists(st.integers(1, 500), max_size=12),
    max_requests=st.none() | st.integers(1, 6),
    max_tokens=st.none() | st.integers(1, 1500),
)
async def test_property_the_model_is_never_called_past_the_servers_budget(
    asks: list[int], max_requests: int | None, max_tokens: int | None
) -> None:
    model = Model()
    budget = SamplingBudget(max_requests, max_tokens)
    sample = sampling_callback("srv", model, budget, logging.getLogger("test"))  # type: ignore[arg-type]
    refused = 0
    for ask in asks:
        answer = await sample(None, request(ask))
        if isinstance(answer, types.ErrorData):
            refused += 1
            assert answer.message.startswith("sampling refused")
    if max_requests is not None:
        assert len(model.asked) <= max_requests
    if max_tokens is not None:
        assert sum(model.asked) <= max_tokens
    assert all(allowed <= ask for allowed, ask in zip(model.asked, asks, strict=False))
    assert len(model.asked) + refused == len(asks)
