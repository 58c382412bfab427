"""``patchwire.imagesize.image_size`` reads (width, height) from PNG, GIF, JPEG and WebP
headers and says None for anything it cannot vouch for; the connectors' estimates that
use it stay bounded for a header that does not read."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st
from patchwire.imagesize import image_size
from patchwire.parts import Image


def png(width: int, height: int) -> bytes:
    return b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR" + struct.pack(">II", width, height)


def gif(width: int, height: int) -> bytes:
    return b"GIF89a" + struct.pack("<HH", width, height)


def jpeg(width: int, height: int) -> bytes:
    app0 = b"\xff\xe0\x00\x10" + b"JFIF\x00" + b"\x00" * 9
    sof0 = b"\xff\xc0\x00\x11\x08" + struct.pack(">HH", height, width) + b"\x03" + b"\x00" * 9
    return b"\xff\xd8" + app0 + sof0


def webp_vp8x(width: int, height: int) -> bytes:
    body = b"VP8X" + b"\x0a\x00\x00\x00" + b"\x00" * 4
    return (
        b"RIFF\x00\x00\x00\x00WEBP" + body
        + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    )  # fmt: skip


@given(st.integers(1, 16_383), st.integers(1, 16_383))
def test_each_format_reads_back_the_size_its_header_states(width: int, height: int) -> None:
    """Invariant: for every format and size, the reader returns exactly the header's size."""
    assert image_size(png(width, height), "image/png") == (width, height)
    assert image_size(gif(width, height), "image/gif") == (width, height)
    assert image_size(jpeg(width, height), "image/jpeg") == (width, height)
    assert image_size(webp_vp8x(width, height), "image/webp") == (width, height)


@pytest.mark.parametrize(
    ("data", "media_type"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(range(32)), "image/png"),  # no IHDR chunk
        (png(10, 10), "image/gif"),  # the media type does not match
        (b"\xff\xd8\xff", "image/jpeg"),  # cut short
        (b"", "image/webp"),
    ],
)
def test_a_header_that_does_not_read_gives_none(data: bytes, media_type: str) -> None:
    assert image_size(data, media_type) is None


def test_gemini_counts_a_png_without_its_size_chunk_as_four_tiles_not_its_garbage() -> None:
    media_tokens = pytest.importorskip("patchwire_gemini.media_tokens")
    bogus = Image.from_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(32)), "image/png")
    assert media_tokens.media_tokens(bogus) == 4 * media_tokens.TILE_TOKENS
