"""Server-sent events, as OpenAI, Anthropic and Gemini stream them.

One parser for every connector: events are separated by a blank line, ``data:`` lines of
one event are joined with newlines, ``event:`` names it, comments (``:``) are skipped.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import attrs

__all__ = ["ServerSentEvent", "iter_sse"]

MAX_EVENT_BYTES = 8 * 1024 * 1024


@attrs.frozen(slots=True)
class ServerSentEvent:
    data: str
    event: str | None = None
    id: str | None = None


async def iter_sse(
    response: aiohttp.ClientResponse, *, max_event_bytes: int = MAX_EVENT_BYTES
) -> AsyncIterator[ServerSentEvent]:
    """Parse the response body as SSE. A truncated final event (no blank line) is dropped."""
    data: list[str] = []
    event: str | None = None
    event_id: str | None = None
    size = 0
    buffer = b""
    async for chunk in response.content.iter_any():
        buffer += chunk
        while True:
            newline = buffer.find(b"\n")
            if newline < 0:
                break
            raw, buffer = buffer[:newline], buffer[newline + 1 :]
            line = raw.rstrip(b"\r").decode("utf-8", errors="replace")
            if not line:
                if data or event is not None:
                    yield ServerSentEvent("\n".join(data), event, event_id)
                data, event, size = [], None, 0
                continue
            if line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "data":
                size += len(value)
                if size > max_event_bytes:
                    raise ValueError(f"server-sent event larger than {max_event_bytes} bytes")
                data.append(value)
            elif field == "event":
                event = value
            elif field == "id":
                event_id = value
        if len(buffer) > max_event_bytes:
            raise ValueError(f"server-sent event line larger than {max_event_bytes} bytes")
