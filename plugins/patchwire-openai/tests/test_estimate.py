"""Images in the token estimate by OpenAI's tile rule (estimate.py's docstring states it):
85 for low detail, else 85 plus 170 a 512-pixel tile after scaling into 2048 x 2048 and to
a shorter side of at most 768; an image whose size is unknown counts the most one can."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from patchwire.parts import Document, Image
from patchwire.types import CompletionRequest, Message
from patchwire_openai import connector as connector_module
from patchwire_openai.estimate import IMAGE_MAX_TOKENS, image_tokens, tiles


def png(width: int, height: int) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x0dIHDR" + struct.pack(">II", width, height)


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [
        (1024, 1024, 85 + 170 * 4),  # scaled to 768 x 768: 2 x 2 tiles
        (2048, 4096, 85 + 170 * 6),  # 1024 x 2048, then 768 x 1536: 2 x 3 tiles
        (512, 512, 85 + 170 * 1),  # small enough already: one tile
        (100, 3000, 85 + 170 * 4),  # 68 x 2048, the short side under 768: 1 x 4 tiles
    ],
)
def test_an_image_costs_85_plus_170_a_tile_after_openais_scaling(
    width: int, height: int, expected: int
) -> None:
    assert image_tokens(Image.from_bytes(png(width, height), "image/png")) == expected


def test_low_detail_is_85_and_an_image_of_unknown_size_counts_the_most_one_can_cost() -> None:
    assert image_tokens(Image.from_bytes(png(4000, 4000), "image/png", detail="low")) == 85
    assert image_tokens(Image.from_url("https://example.test/a.png")) == IMAGE_MAX_TOKENS == 1445
    assert image_tokens(Image.from_bytes(b"not an image", "image/png")) == IMAGE_MAX_TOKENS


@given(st.integers(1, 20_000), st.integers(1, 20_000))
def test_no_image_of_any_size_is_estimated_above_the_unknown_size_bound(w: int, h: int) -> None:
    """Invariant: 1 <= tiles <= 8 for every size, so one image's estimate lies in
    [255, IMAGE_MAX_TOKENS] and the unknown-size figure is a true upper bound."""
    assert 1 <= tiles(w, h) <= 8
    assert 255 <= image_tokens(Image.from_bytes(png(w, h), "image/png")) <= IMAGE_MAX_TOKENS


class _Words:
    def encode_ordinary(self, text: str) -> list[str]:
        return text.split()


def test_the_connectors_estimate_adds_the_tile_rule_per_image_and_the_flat_figure_per_document(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(connector_module, "encoding_for", lambda model: _Words())
    conn: Any = object.__new__(connector_module.OpenAIConnector)
    plain = CompletionRequest("gpt-4o", (Message("user", ["look"]),), {})
    rich = CompletionRequest(
        "gpt-4o",
        (
            Message(
                "user",
                [
                    "look",
                    Image.from_bytes(png(1024, 1024), "image/png"),
                    Image.from_bytes(png(10, 10), "image/png", detail="low"),
                    Document.from_bytes(b"%PDF-1.4", "application/pdf"),
                ],
            ),
        ),
        {},
    )
    added = conn.estimate_tokens(rich) - conn.estimate_tokens(plain)
    assert added == 765 + 85 + connector_module.MEDIA_TOKEN_ESTIMATE
