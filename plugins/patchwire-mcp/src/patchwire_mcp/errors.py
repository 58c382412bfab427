"""What can go wrong talking to an MCP server, in patchwire's terms.

A JSON-RPC error answer becomes :class:`McpProtocolError`, which the plugin's
``patchwire_classify_error`` hook turns into a category (``classify.py``). Everything else
the SDK or the transport raises is turned into a ``PatchwireError`` right here, because its
category is already known: a lost connection is transient, a malformed answer is an
integration failure, a server that never answers its handshake is degraded.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Sequence
from typing import Any

from patchwire.errors import (
    AuthError,
    DegradedError,
    IntegrationError,
    PatchwireError,
    TransientError,
)
from patchwire.http import HttpResponse

__all__ = [
    "McpProtocolError",
    "lost_connection",
    "start_failure",
    "transport_error",
    "unexpected_answer",
]

#: the SDK's own code for "the connection closed before an answer arrived" (never on the wire)
CONNECTION_CLOSED = -32000


class McpProtocolError(Exception):
    """A JSON-RPC error answer to ``method``.

    ``response`` is the HTTP response that carried it when the server speaks streamable
    HTTP and answered with an error status; ``from_body`` says whether the JSON-RPC error
    was in that body (False: the SDK made one up from the status alone).
    """

    def __init__(
        self,
        code: int,
        message: str,
        *,
        method: str,
        data: Any = None,
        response: HttpResponse | None = None,
        from_body: bool = True,
    ) -> None:
        super().__init__(f"{method}: error {code}: {message}")
        self.code = code
        self.message = message
        self.method = method
        self.data = data
        self.response = response
        self.from_body = from_body


def _tail(lines: Sequence[str]) -> str:
    if not lines:
        return ""
    return "; its last stderr lines: " + " | ".join(lines)


def _root(error: BaseException) -> BaseException:
    """The first real failure inside the (possibly nested) exception groups anyio raises."""
    while isinstance(error, BaseExceptionGroup):
        inner = [e for e in error.exceptions if not isinstance(e, asyncio.CancelledError)]
        error = inner[0] if inner else error.exceptions[0]
    return error


def _tls_failure(error: BaseException) -> ssl.SSLError | None:
    for candidate in (error, error.__cause__, error.__context__):
        if isinstance(candidate, ssl.SSLError):
            return candidate
    return None


def lost_connection(
    server: str, cause: BaseException | None = None, stderr: Sequence[str] = ()
) -> TransientError:
    why = f": {type(_root(cause)).__name__}: {_root(cause)}" if cause is not None else ""
    return TransientError(
        f"lost the connection to MCP server '{server}'{why}{_tail(stderr)}", connector=server
    )


def unexpected_answer(server: str, method: str, error: BaseException) -> IntegrationError:
    return IntegrationError(
        f"MCP server '{server}' answered {method} in an unexpected form:"
        f" {type(error).__name__}: {str(error)[:2000]}",
        connector=server,
    )


def start_failure(
    server: str,
    error: BaseException | None,
    *,
    timed_out: float | None,
    stdio: bool,
    stderr: Sequence[str],
    response: HttpResponse | None,
    from_body: bool,
    method: str | None = None,
) -> PatchwireError | McpProtocolError:
    """Why a server could not be started or did not finish its handshake; ``method`` is
    the request the failing answer came to, when known."""
    from mcp import MCPError

    from patchwire_mcp.authorization import oauth_failure
    from patchwire_mcp.transports import ProbeRefused

    if timed_out is not None:
        return DegradedError(
            f"MCP server '{server}' did not finish its handshake within {timed_out:g} s"
            f"{_tail(stderr)}",
            connector=server,
        )
    root = _root(error) if error is not None else None
    if isinstance(root, ProbeRefused) and response is not None:
        # Judged by the status alone (the classifier reads 401/403 as credentials).
        return McpProtocolError(
            -32603, "refused", method="server/discover", response=response, from_body=False
        )
    if isinstance(root, PatchwireError):
        # Raised by our own part of the flow (say, OAuth with no way to reach the user).
        return root
    refused = oauth_failure(server, root)
    if refused is not None:
        return refused
    if isinstance(root, MCPError) and root.code == CONNECTION_CLOSED and stdio:
        # A server that quits before answering its handshake will do so again: no retry.
        return IntegrationError(
            f"MCP server '{server}' exited during start-up{_tail(stderr)}", connector=server
        )
    if isinstance(root, MCPError) and root.code != CONNECTION_CLOSED:
        return McpProtocolError(
            root.code,
            root.message,
            method=method or "initialize",
            data=root.data,
            response=response,
            from_body=from_body,
        )
    if isinstance(root, MCPError):
        return lost_connection(server, stderr=stderr)
    if isinstance(root, FileNotFoundError | PermissionError):
        return IntegrationError(
            f"cannot start MCP server '{server}': {type(root).__name__}: {root}", connector=server
        )
    return transport_error(server, root, stderr)


def transport_error(
    server: str, error: BaseException | None, stderr: Sequence[str]
) -> PatchwireError:
    """A transport failure by type: timeouts are degraded, the rest transient."""
    import httpx2

    tls = _tls_failure(error) if error is not None else None
    if tls is not None:
        # A rejected certificate will not get better by retrying.
        return AuthError(
            f"TLS handshake with MCP server '{server}' failed: {tls}", connector=server
        )
    if isinstance(error, httpx2.TimeoutException | TimeoutError):
        return DegradedError(
            f"MCP server '{server}' timed out: {type(error).__name__}: {error}", connector=server
        )
    return lost_connection(server, error, stderr)
