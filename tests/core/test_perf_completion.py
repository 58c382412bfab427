"""The pipeline builds a call's Completion with positional arguments, in field order
(issue 19: fourteen keyword arguments were a third of the build): the order it relies
on, and a reply whose every field lands where it belongs."""

from __future__ import annotations

from typing import Any

import attrs
from patchwire.connector import Attempt, Capability, Connector
from patchwire.hookspecs import hookimpl
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.types import Completion, CompletionRequest, Usage


class _Answers(Connector):
    type_name = "answers"
    capabilities = frozenset({Capability.COMPLETE})

    async def complete(self, request: CompletionRequest, attempt: Attempt) -> Completion:
        return Completion(
            "ok",
            usage=Usage(3, 1),
            model="m-served",
            finish_reason="stop",
            request_id="req-1",
            raw={"id": 1},
        )


class _Plugin:
    @hookimpl
    def patchwire_register_connectors(self, register: Any) -> None:
        register("answers", _Answers)


ORDER = [
    "text",
    "usage",
    "model",
    "connector",
    "finish_reason",
    "request_id",
    "cached",
    "attempts",
    "latency",
    "cost",
    "raw",
    "parts",
    "parsed",
    "transforms",
]


def test_completion_fields_keep_the_order_the_pipeline_passes_them_in() -> None:
    assert [field.name for field in attrs.fields(Completion)] == ORDER


async def test_a_reply_comes_back_with_each_field_in_its_place() -> None:
    host = PluginHost(load_entry_points=False)
    host.register(_Plugin(), "answers")
    async with Hub.from_dict({"connectors": {"a": {"type": "answers"}}}, host=host) as hub:
        reply = await hub.model("a:m").complete("hi")
    assert reply.text == "ok"
    assert reply.usage == Usage(3, 1)
    assert (reply.model, reply.connector) == ("m-served", "a")
    assert (reply.finish_reason, reply.request_id) == ("stop", "req-1")
    assert (reply.cached, reply.attempts) == (False, 1)
    assert isinstance(reply.latency, float) and reply.latency >= 0.0
    assert reply.raw == {"id": 1}
    assert (reply.parts, reply.parsed, reply.transforms) == ((), None, ())
