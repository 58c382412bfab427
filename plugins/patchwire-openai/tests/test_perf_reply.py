"""Issue 19: the connector builds a reply's Usage and Completion with positional arguments
in field order (a keyword argument costs a name match on every call). This holds that
order: a reply whose fields each have a value of their own equals the keyword-built
Completion (a field moved, or added before those passed, puts a value out of place)."""

from __future__ import annotations

import json

from multidict import CIMultiDict, CIMultiDictProxy
from patchwire.http import HttpResponse
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.types import Completion, CompletionRequest, Message, Usage
from patchwire_openai.connector import OpenAIConnector

UNREACHABLE = "http://127.0.0.1:9/v1"  # nothing is ever sent


def test_every_field_of_a_reply_lands_in_its_place(openai_host: PluginHost) -> None:
    hub = Hub.from_dict(
        {"connectors": {"openai": {"base_url": UNREACHABLE, "api_key": "env:K"}}},
        host=openai_host,
    )
    conn = hub.runtime("openai").connector
    assert isinstance(conn, OpenAIConnector)
    body = {
        "model": "gpt-4o-mini-2024",
        "service_tier": "flex",
        "choices": [{"message": {"content": "hello"}, "finish_reason": "length"}],
        "usage": {
            "prompt_tokens": 11,
            "completion_tokens": 7,
            "prompt_tokens_details": {"cached_tokens": 5},
            "completion_tokens_details": {"reasoning_tokens": 3},
        },
    }
    headers = CIMultiDictProxy(CIMultiDict({"x-request-id": "req-9"}))
    response = HttpResponse(200, headers, json.dumps(body).encode(), UNREACHABLE)
    request = CompletionRequest("gpt-4o-mini", (Message("user", "hi"),))
    reply = conn._completion(response, request)
    assert reply == Completion(
        text="hello",
        usage=Usage(
            input_tokens=11,
            output_tokens=7,
            cached_input_tokens=5,
            reasoning_tokens=3,
            service_tier="flex",
        ),
        model="gpt-4o-mini-2024",
        finish_reason="length",
        request_id="req-9",
        raw=body,
    )
    assert reply.raw == body and reply.parts == () and reply.parsed is None
    assert reply.transforms == () and reply.connector == "" and reply.cost is None
