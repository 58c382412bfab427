"""Notifications from the server: progress of a tool call, and a changed tool list.

Progress goes to the application's handler (``patchwire_mcp.attach(hub, NAME,
progress=...)``) as :class:`Progress` values naming the server and tool, so one handler can
serve every call. A ``notifications/tools/list_changed`` expires the connector's tool
listing: the next call lists the tools again before it is checked. (Cancellation goes the
other way: a call the pipeline cancels, at its deadline or the caller's wish, sends the
server ``notifications/cancelled`` through the SDK.)
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import attrs

__all__ = ["Progress", "ProgressHandler", "message_handler", "progress_callback"]


@attrs.frozen
class Progress:
    """One progress notification of one tool call."""

    server: str
    tool: str
    progress: float
    total: float | None = None
    message: str | None = None


ProgressHandler = Callable[[Progress], Awaitable[None] | None]


def progress_callback(
    server: str, tool: str, handler: ProgressHandler, log: logging.Logger
) -> Callable[[float, float | None, str | None], Awaitable[None]]:
    """The SDK's per-call progress callback around the application's ``handler``."""

    async def report(progress: float, total: float | None, message: str | None) -> None:
        try:
            outcome = handler(Progress(server, tool, progress, total, message))
            if inspect.isawaitable(outcome):
                await outcome
        except Exception as exc:
            # The application's handler failing is no reason to fail the call.
            log.warning(
                "MCP server '%s': the progress handler failed: %s", server, type(exc).__name__
            )

    return report


def message_handler(
    server: str, on_tools_changed: Callable[[], None], log: logging.Logger
) -> Callable[[Any], Awaitable[None]]:
    """The SDK's handler for what the server sends unasked."""
    from mcp import types

    async def handle(message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            log.info("MCP server '%s': its tool list changed", server)
            on_tools_changed()

    return handle
