"""Bounded decompression: what a body inflates to is held to the same cap as the body."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.errors import IntegrationError
from patchwire_web.encoding import decode_body


def _raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


_ENCODERS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "raw deflate": _raw_deflate,
}


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=4000), st.sampled_from(sorted(_ENCODERS)), st.integers(0, 5000))
def test_a_body_inflates_exactly_or_is_refused_at_the_cap(
    data: bytes, encoder: str, limit: int
) -> None:
    """Invariant: decoding gives back the original bytes when they fit in the limit, and
    otherwise refuses; it never returns more than ``limit`` bytes."""
    coding = "gzip" if encoder == "gzip" else "deflate"
    body = _ENCODERS[encoder](data)
    if len(data) <= limit:
        assert decode_body(body, coding, limit) == data
    else:
        with pytest.raises(IntegrationError, match="inflates past"):
            decode_body(body, coding, limit)


def test_a_decompression_bomb_is_refused() -> None:
    bomb = gzip.compress(b"\0" * (50 << 20))
    assert len(bomb) < 100_000
    with pytest.raises(IntegrationError, match="inflates past the 1048576-byte limit"):
        decode_body(bomb, "gzip", 1 << 20)


def test_codings_are_undone_in_reverse_order_and_identity_is_ignored() -> None:
    twice = gzip.compress(zlib.compress(b"hello"))
    assert decode_body(twice, "deflate, gzip", 100) == b"hello"
    assert decode_body(b"plain", "identity", 100) == b"plain"


def test_unasked_or_broken_codings_are_integration_errors() -> None:
    with pytest.raises(IntegrationError, match="br-encoded, which was not asked for"):
        decode_body(b"...", "br", 100)
    with pytest.raises(IntegrationError, match="does not decompress as gzip"):
        decode_body(b"not gzip at all", "gzip", 100)
