"""What a JSON-RPC error from an MCP server means.

The code decides (method and parameter errors are the caller's, an internal error may pass,
a parse error means the server and we disagree about the wire), except when the answer
came with an HTTP status that says more: 401/403 are credentials, 429 is a rate limit with
its Retry-After, 5xx is the server's health, and a status with no JSON-RPC body is judged
by the status alone.
"""

from __future__ import annotations

import attrs
from patchwire.classification import Classification
from patchwire.classify import classify_response
from patchwire.errors import Category

from patchwire_mcp.errors import McpProtocolError

__all__ = ["classify_protocol_error", "code_category"]

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
CONNECTION_CLOSED = -32000  # the SDK's, when the transport closed under a request
REQUEST_TIMEOUT = -32001  # the SDK's, when its own read timeout ran out
HEADER_MISMATCH = -32020
MISSING_CLIENT_CAPABILITY = -32021
UNSUPPORTED_PROTOCOL_VERSION = -32022
URL_ELICITATION_REQUIRED = -32042

_CODES = {
    PARSE_ERROR: Category.INTEGRATION,
    INVALID_REQUEST: Category.INVALID_REQUEST,
    METHOD_NOT_FOUND: Category.INVALID_REQUEST,
    INVALID_PARAMS: Category.INVALID_REQUEST,
    INTERNAL_ERROR: Category.TRANSIENT,
    CONNECTION_CLOSED: Category.TRANSIENT,
    REQUEST_TIMEOUT: Category.DEGRADED,
    # The SDK already re-lists and resends once on a mismatch; a second one is the request's.
    HEADER_MISMATCH: Category.INVALID_REQUEST,
    MISSING_CLIENT_CAPABILITY: Category.INTEGRATION,
    UNSUPPORTED_PROTOCOL_VERSION: Category.INTEGRATION,
    # The server wants a person to authorise something in a browser first.
    URL_ELICITATION_REQUIRED: Category.AUTH,
}

# Statuses whose meaning outranks whatever JSON-RPC code came with them.
_STATUS_FIRST = frozenset({401, 403, 407, 429})


def code_category(code: int) -> Category:
    """The category of a JSON-RPC error code.

    Codes in the implementation-defined server-error range (-32099..-32000) are taken as
    the server's own trouble (transient); any other unknown code is an answer we did not
    expect (integration).
    """
    known = _CODES.get(code)
    if known is not None:
        return known
    if -32099 <= code <= -32000:
        return Category.TRANSIENT
    return Category.INTEGRATION


def classify_protocol_error(error: McpProtocolError) -> Classification:
    text = f"MCP server answered {error.method} with error {error.code}: {error.message}"[:2000]
    response = error.response
    if response is not None and (
        not error.from_body or response.status in _STATUS_FIRST or response.status >= 500
    ):
        by_status = classify_response(response)
        if error.from_body:
            message = f"{text} (HTTP {response.status})"
            code: str | None = str(error.code)
        else:
            # The SDK made the JSON-RPC code up from the status; only the status is real.
            said = (
                "" if by_status.message == f"HTTP {response.status}" else f": {by_status.message}"
            )
            message = f"MCP server answered {error.method} with HTTP {response.status}{said}"
            code = by_status.code
        return attrs.evolve(by_status, message=message[:2000], code=code)
    return Classification(
        code_category(error.code),
        text,
        status=response.status if response is not None else None,
        code=str(error.code),
    )
