"""A completion called with no generation parameters skips the tools and feature split
(issue 19): its request must be exactly what the split would have made, and calls with
parameters still go through it."""

from __future__ import annotations

from typing import Any

import pytest
from patchwire.arguments import InvalidArgument
from patchwire.connector import Attempt, Capability, Connector
from patchwire.features import split_features
from patchwire.hookspecs import hookimpl
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.types import Completion, CompletionRequest, Message

SENT: list[CompletionRequest] = []


class _Recording(Connector):
    type_name = "recording"
    capabilities = frozenset({Capability.COMPLETE, Capability.TOOLS, Capability.STRUCTURED_OUTPUT})

    async def complete(self, request: CompletionRequest, attempt: Attempt) -> Completion:
        SENT.append(request)
        return Completion('{"a": 1}')


class _Plugin:
    @hookimpl
    def patchwire_register_connectors(self, register: Any) -> None:
        register("recording", _Recording)


def _hub() -> Hub:
    host = PluginHost(load_entry_points=False)
    host.register(_Plugin(), "recording")
    return Hub.from_dict({"connectors": {"r": {"type": "recording"}}}, host=host)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"temperature": 0.5},
        {"tools": []},
        {"tool_choice": None},
        {"temperature": 0.0, "output": {"type": "object"}},
    ],
)
async def test_the_request_is_what_the_feature_split_makes(params: dict[str, Any]) -> None:
    async with _hub() as hub:
        SENT.clear()
        await hub.model("r:m").complete("hi", **params)
    rest, features = split_features(dict(params))
    expected = CompletionRequest("m", (Message("user", "hi"),), rest, None, features)
    assert [expected] == SENT
    assert (SENT[0].features is None) == (features is None)


async def test_a_bad_feature_is_still_refused() -> None:
    async with _hub() as hub:
        with pytest.raises(InvalidArgument, match="tool_choice"):
            await hub.model("r:m").complete("hi", tool_choice=3)
