"""Bounded decompression, so a small compressed body cannot expand past the body cap.

The connector's session receives bodies as sent (aiohttp's automatic decompression is off):
the cap then applies to the bytes on the wire, and here again to what they inflate to. A
20 KB gzip body of 20 MB of zeros is refused, not decompressed. Only the codings the
session asks for are accepted.
"""

from __future__ import annotations

import zlib

from patchwire.errors import IntegrationError

__all__ = ["ACCEPT_ENCODING", "decode_body"]

ACCEPT_ENCODING = "gzip, deflate"

# 32 + MAX_WBITS: a gzip or a zlib header, whichever is there.
_AUTO = 32 + zlib.MAX_WBITS
# Some servers send "deflate" as a raw stream without the zlib header.
_RAW = -zlib.MAX_WBITS


def _inflate(data: bytes, wbits: int, limit: int) -> bytes | None:
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error:
        return None
    if len(out) > limit or inflater.unconsumed_tail:
        raise IntegrationError(
            f"the body inflates past the {limit}-byte limit (the connector's max_body)"
        )
    return out


def decode_body(body: bytes, content_encoding: str, limit: int) -> bytes:
    """``body`` with its content codings undone, never longer than ``limit`` bytes."""
    codings = [c.strip().lower() for c in content_encoding.split(",")]
    for coding in reversed([c for c in codings if c and c != "identity"]):
        if coding not in ("gzip", "x-gzip", "deflate"):
            raise IntegrationError(
                f"the body is {coding}-encoded, which was not asked for (asked: {ACCEPT_ENCODING})"
            )
        out = _inflate(body, _AUTO, limit)
        if out is None and coding == "deflate":
            out = _inflate(body, _RAW, limit)
        if out is None:
            raise IntegrationError(f"the body does not decompress as {coding}")
        body = out
    return body
