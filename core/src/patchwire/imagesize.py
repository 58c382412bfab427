"""An image's pixel size read from its header (PNG, GIF, JPEG, WebP), without decoding it.

Connectors estimate what an image costs from its size by their provider's rule (Anthropic
by area, OpenAI by 512-pixel tiles); this is the one reader they share.
"""

from __future__ import annotations

import struct

__all__ = ["image_size"]


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
