"""Token estimates by Anthropic's rules: image sizes read from their headers, PDF pages,
tool definitions; core's flat media rate replaced, never added to."""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st
from patchwire import Document, Image, Message, ToolResultPart, ToolSpec
from patchwire.connector import MEDIA_TOKEN_ESTIMATE
from patchwire.features import split_features
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.types import CompletionRequest
from patchwire_anthropic.connector import AnthropicConnector
from patchwire_anthropic.estimate import (
    IMAGE_MAX_TOKENS,
    PDF_PAGE_TOKENS,
    image_size,
    media_tokens,
    tools_tokens,
)


def png(width: int, height: int) -> bytes:
    return b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + struct.pack(">II", width, height) + b"\x08\x06"


def gif(width: int, height: int) -> bytes:
    return b"GIF89a" + struct.pack("<HH", width, height) + b"\x00\x00\x00"


def jpeg(width: int, height: int) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00" + bytes(9)
    sof = b"\xff\xc0" + struct.pack(">HBHH", 17, 8, height, width) + bytes(10)
    return b"\xff\xd8" + app0 + sof


def webp(width: int, height: int, kind: str) -> bytes:
    head = b"RIFF\x00\x00\x00\x00WEBP"
    if kind == "VP8X":
        return (
            head
            + b"VP8X"
            + bytes(8)
            + (width - 1).to_bytes(3, "little")
            + (height - 1).to_bytes(3, "little")
        )
    if kind == "VP8L":
        bits = (width - 1) | ((height - 1) << 14)
        return head + b"VP8L" + bytes(4) + b"\x2f" + bits.to_bytes(4, "little")
    return (
        head + b"VP8 " + bytes(4) + bytes(3) + b"\x9d\x01\x2a" + struct.pack("<HH", width, height)
    )


sizes = st.tuples(st.integers(1, 16383), st.integers(1, 16383))


@given(sizes, st.sampled_from(["png", "gif", "jpeg", "VP8X", "VP8L", "VP8 "]))
def test_the_size_read_from_any_header_is_the_size_written(
    size: tuple[int, int], kind: str
) -> None:
    """Invariant: for every format and size, image_size reads back (width, height)."""
    width, height = size
    if kind == "png":
        data, media = png(width, height), "image/png"
    elif kind == "gif":
        data, media = gif(width, height), "image/gif"
    elif kind == "jpeg":
        data, media = jpeg(width, height), "image/jpeg"
    else:
        data, media = webp(width, height, kind), "image/webp"
    assert image_size(data, media) == (width, height)


@given(sizes)
def test_an_image_never_costs_more_than_anthropics_cap(size: tuple[int, int]) -> None:
    """Invariant: 1 <= an image's estimate <= 1600, and below the cap it is w*h/750."""
    request = CompletionRequest(
        "m", (Message("user", ["x", Image.from_bytes(png(*size), "image/png")]),)
    )
    count, cost = media_tokens(request)
    assert count == 1 and 1 <= cost <= IMAGE_MAX_TOKENS
    if size[0] * size[1] < 750 * IMAGE_MAX_TOKENS:
        assert cost == max(1, size[0] * size[1] // 750)


def test_unreadable_images_and_urls_count_the_cap_and_pdfs_count_pages() -> None:
    pdf = b"%PDF-1.7\n1 0 obj <</Type /Pages /Count 2>>\n2 0 obj <</Type /Page>>\n3 0 obj <</Type/Page>>"
    result = ToolResultPart("toolu_1", (Image.from_bytes(b"\x89PNG broken", "image/png"),))
    request = CompletionRequest(
        "m",
        (
            Message(
                "user", [Image.from_url("https://example.test/a.png"), Document.from_bytes(pdf)]
            ),
            Message("assistant", "ok"),
            Message("user", [result, Document.from_url("https://example.test/a.pdf")]),
        ),
    )
    count, cost = media_tokens(request)
    assert count == 3  # the one inside the tool result is not in core's count
    assert cost == IMAGE_MAX_TOKENS + 2 * PDF_PAGE_TOKENS + IMAGE_MAX_TOKENS + PDF_PAGE_TOKENS


def test_the_connector_estimate_replaces_core_flat_rate_and_counts_tools(
    anthropic_host: PluginHost, key: str
) -> None:
    hub = Hub.from_dict(
        {"connectors": {"anthropic": {"api_key": "env:ANTHROPIC_SIM_KEY"}}}, host=anthropic_host
    )
    conn = hub.runtime("anthropic").connector
    assert isinstance(conn, AnthropicConnector)
    small = Image.from_bytes(png(75, 100), "image/png")  # 10 tokens by Anthropic's rule
    text = CompletionRequest("m", (Message("user", "x" * 40),), {"max_tokens": 10})
    with_image = CompletionRequest("m", (Message("user", ["x" * 40, small]),), {"max_tokens": 10})
    assert conn.estimate_tokens(with_image) - conn.estimate_tokens(text) == 10
    tool = ToolSpec("lookup", "Look up.", {"type": "object", "properties": {}})
    params, features = split_features({"tools": [tool], "max_tokens": 10})
    with_tools = CompletionRequest("m", text.messages, params, None, features)
    extra = conn.estimate_tokens(with_tools) - conn.estimate_tokens(text)
    assert extra == tools_tokens(with_tools) > 346
    assert MEDIA_TOKEN_ESTIMATE != 10  # the flat rate is really replaced, not coincidentally equal
