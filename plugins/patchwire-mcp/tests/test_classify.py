"""What JSON-RPC errors from MCP servers mean, and when an HTTP status outranks them.
Unit tests: classification is a pure function of the error."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy
from patchwire.errors import Category, TransientError
from patchwire.http import HttpResponse
from patchwire.plugins import PluginHost
from patchwire.testing.fake import FakeConnector
from patchwire_mcp.classify import classify_protocol_error, code_category
from patchwire_mcp.errors import McpProtocolError
from patchwire_mcp.plugin import plugin

SPECIFIED = {
    -32700: Category.INTEGRATION,  # parse error: we and the server disagree about the wire
    -32600: Category.INVALID_REQUEST,
    -32601: Category.INVALID_REQUEST,
    -32602: Category.INVALID_REQUEST,  # also an unknown tool
    -32603: Category.TRANSIENT,
    -32000: Category.TRANSIENT,  # the SDK: connection closed
    -32001: Category.DEGRADED,  # the SDK: its own read timeout
}


@settings(max_examples=200, deadline=None)
@given(code=st.integers(-(2**31), 2**31))
def test_every_code_has_a_category_and_the_specified_ones_keep_theirs(code: int) -> None:
    """Invariant: any integer code classifies (never raises), to a real category other than
    the pipeline's own (circuit_open, config) and quota_exhausted; the codes the spec names
    map as specified; unknown codes in the server-error range are transient, others integration."""
    category = code_category(code)
    assert category not in (Category.CIRCUIT_OPEN, Category.CONFIG, Category.QUOTA_EXHAUSTED)
    if code in SPECIFIED:
        assert category is SPECIFIED[code]
    elif -32099 <= code <= -32000 and code not in (-32020, -32021, -32022, -32042):
        assert category is Category.TRANSIENT


def response(status: int, body: bytes = b"", **headers: str) -> HttpResponse:
    return HttpResponse(status, CIMultiDictProxy(CIMultiDict(headers)), body, "http://h/mcp")


def test_a_json_rpc_error_is_classified_by_its_code() -> None:
    cls = classify_protocol_error(
        McpProtocolError(-32602, "Unknown tool: x", method="tools/call x")
    )
    assert cls.category is Category.INVALID_REQUEST
    assert cls.code == "-32602"
    assert cls.message == "MCP server answered tools/call x with error -32602: Unknown tool: x"


def test_a_json_rpc_error_in_a_4xx_body_keeps_its_code_and_the_status() -> None:
    error = McpProtocolError(
        -32601, "Method not found", method="tools/call", response=response(404), from_body=True
    )
    cls = classify_protocol_error(error)
    assert (cls.category, cls.status, cls.code) == (Category.INVALID_REQUEST, 404, "-32601")


@pytest.mark.parametrize(
    ("status", "category"),
    [
        (401, Category.AUTH),
        (403, Category.AUTH),
        (429, Category.RATE_LIMITED),
        (503, Category.DEGRADED),
        (500, Category.TRANSIENT),
    ],
)
def test_statuses_that_say_more_outrank_the_code(status: int, category: Category) -> None:
    error = McpProtocolError(-32603, "Internal", method="tools/call", response=response(status))
    assert classify_protocol_error(error).category is category


def test_a_status_without_a_json_rpc_body_is_judged_alone_with_its_retry_after() -> None:
    error = McpProtocolError(
        -32603,
        "Server returned an error response",
        method="tools/list",
        response=response(429, b'{"error": "slow down"}', **{"retry-after": "7"}),
        from_body=False,
    )
    cls = classify_protocol_error(error)
    assert cls.category is Category.RATE_LIMITED
    assert cls.retry_after == 7.0
    assert cls.message == "MCP server answered tools/list with HTTP 429: slow down"
    assert cls.code is None, "the SDK's stand-in code is not the server's"


def test_the_hook_answers_only_for_mcp_connectors_and_protocol_errors(mcp_host: PluginHost) -> None:
    fake = object.__new__(FakeConnector)
    error = McpProtocolError(-32602, "bad", method="tools/call")
    assert plugin.patchwire_classify_error(connector=fake, error=error, response=None) is None
    mcp = mcp_host.registries.connectors["mcp"]
    connector = object.__new__(mcp)
    assert plugin.patchwire_classify_error(connector, TransientError("x"), None) is None
    answer = plugin.patchwire_classify_error(connector, error, None)
    assert answer is not None and answer.category is Category.INVALID_REQUEST
