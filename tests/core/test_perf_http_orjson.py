"""HttpResponse.json() reads a body with orjson where it is installed (issue 19: about a
third of json.loads' instructions for a chat completion) and must answer exactly as the
standard library's reading does. Invariant: for any body, the fast reading and the plain
one (patchwire.http without orjson) give the same value, with the same types, key order
and float bits, or the same error, word for word."""

from __future__ import annotations

import json
import math
import sys
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy
from patchwire import http
from patchwire.errors import IntegrationError
from patchwire.http import HttpResponse

pytest.importorskip("orjson")

ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-32-be"]
numbers = (
    st.integers()
    | st.integers(-(2**70), 2**70)
    | st.sampled_from([2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 10**18])
    | st.floats()
    | st.floats(min_value=-1e-300, max_value=1e-300)
)
texts = st.text(max_size=8) | st.sampled_from(["\ud800", "x\udc00", "\U0001f600", "\x00", "é"])
values = st.recursive(
    st.none() | st.booleans() | numbers | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=10,
)


def _response(body: bytes) -> HttpResponse:
    return HttpResponse(200, CIMultiDictProxy(CIMultiDict()), body, "http://api.example/v1")


def _answer(body: bytes) -> tuple[str, str]:
    """The value's repr (types, order, nan and -0.0 included) or the error's message."""
    try:
        return "ok", repr(_response(body).json())
    except IntegrationError as exc:
        return "error", str(exc)


def _plain(body: bytes, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    with monkeypatch.context() as patch:
        patch.setattr(http, "_FAST_LOADS", None)
        return _answer(body)


def test_orjson_is_used_when_installed() -> None:
    assert http._FAST_LOADS is not None
    calls: list[bytes] = []
    fast = http._FAST_LOADS

    def counted(body: bytes) -> Any:
        calls.append(body)
        return fast(body)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(http, "_FAST_LOADS", counted)
        assert _response(b'{"a": [1, 2.5, "x"]}').json() == {"a": [1, 2.5, "x"]}
        assert _response(b'{"n": 1234567890123456789}').json() == {"n": 1234567890123456789}
    assert calls == [b'{"a": [1, 2.5, "x"]}']  # a 19-digit run is left to json.loads


@settings(max_examples=400, deadline=None)
@given(
    values,
    st.sampled_from(ENCODINGS),
    st.booleans(),
    st.sampled_from([None, (",", ":"), (", ", ": ")]),
    st.sampled_from([None, 0, 2, "\t"]),
)
@example(2**64, "utf-8", True, None, None)  # orjson reads it as a float
@example(-(2**63) - 1, "utf-8", True, None, None)
@example({"a": [math.nan, math.inf, -0.0, 1e308]}, "utf-8", False, None, None)
@example({"a": "\ud800"}, "utf-8", True, None, None)
def test_any_json_text_reads_as_without_orjson(
    value: Any,
    encoding: str,
    ascii_only: bool,
    separators: tuple[str, str] | None,
    indent: int | str | None,
) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only, separators=separators, indent=indent)
    try:
        body = text.encode(encoding, "surrogatepass")
    except UnicodeEncodeError:
        return
    with pytest.MonkeyPatch.context() as patch:
        assert _answer(body) == _plain(body, patch)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([b"{", b"[", b"", b" ", b'{"a":', b"1"]), st.binary(max_size=24))
@example(b'{"a":', b'1, "a": 2}')  # a repeated key: the last value, at the first place
@example(b"[", b"1e400]")
@example(b"", b"\xef\xbb\xbf[1]")
@example(b"[", b'"\xed\xa0\x80"]')
def test_any_bytes_read_as_without_orjson(start: bytes, rest: bytes) -> None:
    body = start + rest
    with pytest.MonkeyPatch.context() as patch:
        assert _answer(body) == _plain(body, patch)


def test_deep_nesting_reads_as_without_orjson() -> None:
    body = b"[" * 1100 + b"]" * 1100  # past orjson's depth limit (1,024), within json's here
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(5000)
    try:
        with pytest.MonkeyPatch.context() as patch:
            assert _answer(body) == _plain(body, patch) == ("ok", "[" * 1100 + "]" * 1100)
    finally:
        sys.setrecursionlimit(limit)


def _loaded(text: str, loads: Any) -> tuple[str, str]:
    try:
        return "ok", repr(loads(text))
    except ValueError as exc:
        return "error", f"{type(exc).__name__}: {exc}"


@settings(max_examples=400, deadline=None)
@given(
    values,
    st.booleans(),
    st.sampled_from([None, (",", ":")]),
    st.text(max_size=3),
    st.text(max_size=3),
)
@example(2**64, True, None, "", "")
@example({"a": "\ud800"}, False, None, "", "")  # a lone surrogate in the str itself
@example([math.nan], True, None, "\ufeff", "")  # a byte-order mark json.loads names
def test_a_stream_chunk_reads_as_json_loads_reads_it(
    value: Any, ascii_only: bool, separators: tuple[str, str] | None, before: str, after: str
) -> None:
    """loads_text (the openai connector's stream chunks) answers as json.loads on the str."""
    text = before + json.dumps(value, ensure_ascii=ascii_only, separators=separators) + after
    assert _loaded(text, http.loads_text) == _loaded(text, json.loads)
