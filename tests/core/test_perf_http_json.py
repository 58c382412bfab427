"""HttpResponse.json() decodes a plain UTF-8 object or array itself (issue 19) and answers
exactly as json.loads on the bytes would, for every encoding json.loads recognises."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy
from patchwire.errors import IntegrationError
from patchwire.http import HttpResponse

ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le"]
values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)


def _response(body: bytes) -> HttpResponse:
    return HttpResponse(200, CIMultiDictProxy(CIMultiDict()), body, "http://api.example/v1")


def _parsed(body: bytes) -> tuple[str, Any]:
    try:
        return "ok", json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return "error", None


def _ours(body: bytes) -> tuple[str, Any]:
    try:
        return "ok", _response(body).json()
    except IntegrationError:
        return "error", None


@settings(max_examples=200, deadline=None)
@given(values, st.sampled_from(ENCODINGS))
def test_any_encoding_json_loads_reads_gives_the_same_value(value: Any, encoding: str) -> None:
    body = json.dumps(value, ensure_ascii=False).encode(encoding)
    assert _ours(body) == _parsed(body)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([b"{", b"[", b""]), st.binary(max_size=12))
def test_any_bytes_give_what_json_loads_gives(start: bytes, rest: bytes) -> None:
    body = start + rest
    assert _ours(body) == _parsed(body)


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": "\xed\xa0\x80"}',  # a lone surrogate encoded as UTF-8: read as json.loads reads it
        b'{"a": "\xff"}',  # not UTF-8
        b"{\x00",  # UTF-16-LE begins like an object
    ],
)
def test_edge_bodies_match_json_loads(body: bytes) -> None:
    assert _ours(body) == _parsed(body)
