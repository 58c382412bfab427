"""What images add to a chat request's token estimate, by OpenAI's tile rule rather than
core's flat 1000 a medium.

The rule (OpenAI's vision guide for the tile-priced models, GPT-4o and its kin; WIRE-RICH.md
does not state it): ``detail: "low"`` costs 85 tokens. Otherwise the image is scaled to fit
inside 2048 x 2048, then scaled so its shorter side is at most 768 pixels, and costs 85
plus 170 for every 512-pixel square tile it covers. ``"auto"`` (and no detail) is counted
as high, the upper bound. The size is read from the image's header
(:func:`patchwire.imagesize.image_size`); an image given by URL, or whose header cannot be
read, counts the most any image can cost: 2048 x 768 after scaling, 8 tiles, 1445 tokens.

A documented approximation where the rule differs: models priced by 32-pixel patches
(gpt-4.1-mini and later minis) and gpt-4o-mini, which counts images at a multiple, are
estimated by the same tile rule. Documents (PDF) keep core's flat figure per file. These
are limiter estimates, reconciled with the reply's usage afterwards.
"""

from __future__ import annotations

import math
from typing import Final

from patchwire.imagesize import image_size
from patchwire.parts import Image
from patchwire.types import CompletionRequest

__all__ = ["IMAGE_MAX_TOKENS", "image_tokens", "images_tokens"]

LOW_DETAIL_TOKENS: Final = 85
TILE_TOKENS: Final = 170
_TILE: Final = 512
_FIT: Final = 2048
_SHORT_SIDE: Final = 768
IMAGE_MAX_TOKENS: Final = LOW_DETAIL_TOKENS + TILE_TOKENS * 8


def tiles(width: int, height: int) -> int:
    """512-pixel tiles an image of this size covers once scaled as OpenAI scales it."""
    w, h = float(max(1, width)), float(max(1, height))
    fit = min(1.0, _FIT / max(w, h))
    w, h = w * fit, h * fit
    short = min(1.0, _SHORT_SIDE / min(w, h))
    w, h = w * short, h * short
    return math.ceil(w / _TILE) * math.ceil(h / _TILE)


def image_tokens(image: Image) -> int:
    if image.detail == "low":
        return LOW_DETAIL_TOKENS
    size = image_size(image.data, image.media_type) if image.data is not None else None
    if size is None:
        return IMAGE_MAX_TOKENS
    return LOW_DETAIL_TOKENS + TILE_TOKENS * tiles(*size)


def images_tokens(request: CompletionRequest) -> tuple[int, int]:
    """(images in message content, what the tile rule says they cost)."""
    count = cost = 0
    for message in request.messages:
        if isinstance(message.content, str):
            continue
        for part in message.content:
            if isinstance(part, Image):
                count += 1
                cost += image_tokens(part)
    return count, cost
