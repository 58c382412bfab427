"""Server-sent events, as OpenAI, Anthropic and Gemini stream them.

One parser for every connector: events are separated by a blank line, ``data:`` lines of
one event are joined with newlines, ``event:`` names it, comments (``:``) are skipped.

Many OpenAI-compatible servers (and mock servers such as Prism) ignore ``stream: true`` and
answer with an ordinary JSON completion. :func:`read_unstreamed` tells the cases apart by
content type before a connector parses anything: an event stream is read as one; a JSON
body is handed back whole so the connector can deliver it as a one-chunk stream (it was
billed, and retrying would only bill it again); anything else is an integration error.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import attrs

from patchwire.errors import IntegrationError
from patchwire.http import DEFAULT_MAX_BODY, HttpResponse, _read_capped
from patchwire.redact import redact_url
from patchwire.types import Completion, StreamChunk

__all__ = ["ServerSentEvent", "as_one_chunk", "iter_sse", "read_unstreamed"]

EVENT_STREAM = "text/event-stream"

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
    # Lines are cut from one growing buffer by position and the consumed head dropped once
    # per read, and the search for the next newline starts where the last one ended:
    # slicing the rest of the buffer per line (or re-scanning a long partial line on every
    # read) made a read holding n events, or an event arriving in n reads, cost n².
    buffer = bytearray()
    scanned = 0  # buffer[:scanned] holds no newline
    async for chunk in response.content.iter_any():
        buffer += chunk
        start = 0
        while True:
            newline = buffer.find(b"\n", scanned)
            if newline < 0:
                break
            raw = buffer[start:newline]
            start = scanned = newline + 1
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
        if start:
            del buffer[:start]
        scanned = len(buffer)
        if len(buffer) > max_event_bytes:
            raise ValueError(f"server-sent event line larger than {max_event_bytes} bytes")


async def read_unstreamed(
    response: aiohttp.ClientResponse, *, max_body: int = DEFAULT_MAX_BODY
) -> HttpResponse | None:
    """None when ``response`` is an event stream; its whole body when it is JSON instead.

    Any other content type (an HTML error page from a proxy, plain text) raises
    :class:`IntegrationError`: the server does not speak the streaming wire, and asking
    again would get the same answer.
    """
    content_type = response.content_type.lower()
    if content_type == EVENT_STREAM:
        return None
    if content_type == "application/json" or content_type.endswith("+json"):
        body = await _read_capped(response, max_body)
        return HttpResponse(response.status, response.headers, body, response.url)
    raise IntegrationError(
        f"asked {redact_url(str(response.url))} for a stream ({EVENT_STREAM}) and it answered"
        f" {content_type or 'with no content type'} (status {response.status}); check that"
        " base_url points at the provider's API, not a proxy page or a website",
        status=response.status,
    )


def as_one_chunk(completion: Completion) -> StreamChunk:
    """A whole completion as the single, final chunk of a stream."""
    return StreamChunk(
        completion.text,
        usage=completion.usage,
        finish_reason=completion.finish_reason,
        parts=completion.parts,  # tool calls and reasoning, assembled as a stream's end would
    )
