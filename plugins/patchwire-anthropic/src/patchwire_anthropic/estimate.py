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
from typing import Final

from patchwire.imagesize import image_size
from patchwire.parts import Document, Image, Media, ToolResultPart
from patchwire.types import CompletionRequest

__all__ = ["IMAGE_MAX_TOKENS", "PDF_PAGE_TOKENS", "image_size", "media_tokens", "tools_tokens"]

IMAGE_MAX_TOKENS: Final = 1600
PDF_PAGE_TOKENS: Final = 3000
TOOL_PROMPT_TOKENS: Final = 346
_PAGE: Final = re.compile(rb"/Type\s*/Page(?![s\w])")


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
