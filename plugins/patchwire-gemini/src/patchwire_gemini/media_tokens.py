"""What an image or a PDF costs in Gemini's prompt, estimated before sending.

Gemini's documented rule: an image with both sides at most 384 pixels is 258 tokens; a
larger one is cut into 768x768 tiles of 258 tokens each; a PDF page is 258 tokens. The
size is read from the image's header (:func:`patchwire.imagesize.image_size`: PNG, GIF,
JPEG, WebP); for a header that does not read and for URLs the estimate is four tiles, a
1536-pixel image, which errs high as an estimate for a limiter should. A PDF's pages are counted by its
``/Type /Page`` objects (one page when none is found).
"""

from __future__ import annotations

import math
import re
from typing import Final

from patchwire.imagesize import image_size
from patchwire.parts import Document, Image, Media

__all__ = ["TILE_TOKENS", "media_tokens"]

TILE_TOKENS: Final = 258
_SMALL: Final = 384
_TILE: Final = 768
_UNKNOWN_TILES: Final = 4
_PAGE: Final = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")


def _image_tokens(part: Image) -> int:
    size = image_size(part.data, part.media_type) if part.data is not None else None
    if size is None:
        return TILE_TOKENS * _UNKNOWN_TILES
    width, height = size
    if width <= _SMALL and height <= _SMALL:
        return TILE_TOKENS
    return TILE_TOKENS * math.ceil(width / _TILE) * math.ceil(height / _TILE)


def media_tokens(part: Media) -> int:
    """Prompt tokens ``part`` costs on Gemini, by the rule above."""
    if isinstance(part, Image):
        return _image_tokens(part)
    if isinstance(part, Document) and part.media_type == "application/pdf":
        pages = len(_PAGE.findall(part.data)) if part.data is not None else 0
        return TILE_TOKENS * max(pages, 1)
    # Plain text documents count as text does: about four characters a token.
    return (part.size or 0) // 4 + 1
