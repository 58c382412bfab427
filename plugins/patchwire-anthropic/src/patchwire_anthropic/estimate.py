"""What images, PDFs and tool definitions add to a request's token estimate, by Anthropic's
documented rules rather than core's flat 1000 a medium.

- An image costs about ``width * height / 750`` tokens; an image whose long edge is over
  1568 pixels, or that would cost more than about 1600 tokens, is scaled down first, so
  1600 is the most one image costs. The size is read from the PNG, GIF, JPEG or WebP
  header; an image given by URL (or whose header cannot be read) counts the 1600.
- A PDF page costs 1500 to 3000 tokens (its text plus the page as an image): the
  estimate counts 3000 a page, pages counted from the file's ``/Type /Page`` objects (at
  least one); a PDF given by URL counts as one page. Plain-text documents count their text.
- Tools add their JSON definitions and the tool-use system prompt Anthropic inserts
  (346 tokens for the Claude 4 family with ``auto``/``none``; the larger of the figures).

These are limiter estimates, reconciled with the reply's usage afterwards.
"""

from __future__ import annotations

import json
import re
import struct
from typing import Final

from patchwire.parts import Document, Image, Media, ToolResultPart
from patchwire.types import CompletionRequest

__all__ = ["IMAGE_MAX_TOKENS", "PDF_PAGE_TOKENS", "image_size", "media_tokens", "tools_tokens"]

IMAGE_MAX_TOKENS: Final = 1600
PDF_PAGE_TOKENS: Final = 3000
TOOL_PROMPT_TOKENS: Final = 346
_PAGE: Final = re.compile(rb"/Type\s*/Page(?![s\w])")


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    at = 2
    while at + 9 < len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        length = int.from_bytes(data[at + 2 : at + 4], "big")
        # SOF0..SOF15 carry the frame size, except DHT (C4), JPG (C8) and DAC (CC).
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[at + 5 : at + 9])
            return width, height
        at += 2 + length
    return None


def image_size(data: bytes, media_type: str) -> tuple[int, int] | None:
    """(width, height) from the image's header, or None when it cannot be read."""
    try:
        if media_type == "image/png" and data[12:16] == b"IHDR":
            return struct.unpack(">II", data[16:24])
        if media_type == "image/gif" and data[:3] == b"GIF":
            return struct.unpack("<HH", data[6:10])
        if media_type == "image/jpeg" and data[:2] == b"\xff\xd8":
            return _jpeg_size(data)
        if media_type == "image/webp" and data[8:12] == b"WEBP":
            chunk = data[12:16]
            if chunk == b"VP8X":
                return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(
                    data[27:30], "little"
                )
            if chunk == b"VP8L":
                bits = int.from_bytes(data[21:25], "little")
                return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
            if chunk == b"VP8 ":
                width, height = struct.unpack("<HH", data[26:30])
                return width & 0x3FFF, height & 0x3FFF
    except struct.error:
        return None
    return None


def _one(part: Media) -> int:
    if isinstance(part, Image):
        size = image_size(part.data, part.media_type) if part.data is not None else None
        if size is None:
            return IMAGE_MAX_TOKENS
        return max(1, min(IMAGE_MAX_TOKENS, size[0] * size[1] // 750))
    if part.media_type == "text/plain":
        return len(part.data or b"") // 4 + 1
    pages = len(_PAGE.findall(part.data)) if part.data is not None else 1
    return PDF_PAGE_TOKENS * max(1, pages)


def media_tokens(request: CompletionRequest) -> tuple[int, int]:
    """(media parts in message content, what Anthropic's rules say they cost); media in
    tool results count too (core's estimate does not see those)."""
    count = cost = 0
    for message in request.messages:
        if isinstance(message.content, str):
            continue
        for part in message.content:
            if isinstance(part, Image | Document):
                count += 1
                cost += _one(part)
            elif isinstance(part, ToolResultPart) and not isinstance(part.content, str):
                cost += sum(_one(p) for p in part.content if isinstance(p, Image | Document))
    return count, cost


def tools_tokens(request: CompletionRequest) -> int:
    """The tool definitions (about four characters a token) and the tool-use prompt."""
    if not request.tools:
        return 0
    text = json.dumps(
        [[t.name, t.description, dict(t.parameters)] for t in request.tools], separators=(",", ":")
    )
    return TOOL_PROMPT_TOKENS + len(text) // 4 + 1
