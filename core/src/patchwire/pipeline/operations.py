"""The innermost stage of DESIGN §5: how one attempt reaches the connector, per operation.

Each ``send`` is a plain function that returns the connector's own awaitable, so an
attempt awaits the connector directly instead of through a wrapper coroutine; what a
wrapper used to check after the reply (``checks_usage``) the attempt loop checks inside
the attempt, where a failure is classified like any other.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Generic, TypeVar

import attrs

from patchwire.connector import Attempt, Connector
from patchwire.types import (
    Completion,
    CompletionRequest,
    EmbeddingBatch,
    EmbeddingRequest,
    StreamChunk,
    ToolRequest,
    ToolResult,
)

__all__ = ["CALL_TOOL", "COMPLETE", "EMBED", "LIST_TOOLS", "OPEN_STREAM", "Operation"]

T = TypeVar("T")
Opened = tuple[AsyncIterator[StreamChunk], StreamChunk | None]


@attrs.frozen
class Operation(Generic[T]):
    """How an attempt sends its request, and whether the reply's usage counts are checked
    (an implausible count is the provider's fault: an integration failure of the attempt)."""

    send: Callable[[Connector, Any, Attempt], Awaitable[T]]
    checks_usage: bool = False


def _complete(
    conn: Connector, request: CompletionRequest, attempt: Attempt
) -> Awaitable[Completion]:
    return conn.complete(request, attempt)


def _embed(
    conn: Connector, request: EmbeddingRequest, attempt: Attempt
) -> Awaitable[EmbeddingBatch]:
    return conn.embed(request, attempt)


def _call_tool(conn: Connector, request: ToolRequest, attempt: Attempt) -> Awaitable[ToolResult]:
    return conn.call_tool(request, attempt)


def _list_tools(conn: Connector, request: ToolRequest, attempt: Attempt) -> Awaitable[Any]:
    return conn.list_tools(attempt)


async def _open_stream(conn: Connector, request: CompletionRequest, attempt: Attempt) -> Opened:
    """Open the stream and wait for its first chunk, so that failures before it can be retried."""
    agen = conn.stream(request, attempt)
    try:
        first = await agen.__anext__()
    except StopAsyncIteration:
        return agen, None
    except BaseException:
        aclose = getattr(agen, "aclose", None)
        if aclose is not None:
            await aclose()
        raise
    return agen, first


COMPLETE: Operation[Completion] = Operation(_complete, checks_usage=True)
EMBED: Operation[EmbeddingBatch] = Operation(_embed, checks_usage=True)
CALL_TOOL: Operation[ToolResult] = Operation(_call_tool)
LIST_TOOLS: Operation[Any] = Operation(_list_tools)
OPEN_STREAM: Operation[Opened] = Operation(_open_stream)


def list_tools_request(target: object) -> ToolRequest:
    """The request a ``tools/list`` call sends to any target."""
    return ToolRequest("tools/list")
