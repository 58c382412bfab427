"""iter_sse gives the same events however the body is cut into reads (patchwire.sse)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.sse import ServerSentEvent, iter_sse


class _Content:
    def __init__(self, reads: list[bytes]) -> None:
        self._reads = reads

    async def iter_any(self) -> AsyncIterator[bytes]:
        for read in self._reads:
            yield read


class _Response:
    def __init__(self, reads: list[bytes]) -> None:
        self.content = _Content(reads)


def events_of(reads: list[bytes], max_event_bytes: int = 1 << 20) -> list[ServerSentEvent]:
    async def collect() -> list[ServerSentEvent]:
        return [e async for e in iter_sse(_Response(reads), max_event_bytes=max_event_bytes)]  # type: ignore[arg-type]

    return asyncio.run(collect())


def cut(body: bytes, points: list[int]) -> list[bytes]:
    edges = sorted({p % (len(body) + 1) for p in points} | {0, len(body)})
    return [body[a:b] for a, b in itertools.pairwise(edges)]


lines = st.one_of(
    st.builds(lambda v: b"data: " + v.encode(), st.text(alphabet="ab é{}:\r", max_size=12)),
    st.builds(lambda v: b"event: " + v.encode(), st.text(alphabet="xyz", max_size=5)),
    st.builds(lambda v: b"id: " + v.encode(), st.text(alphabet="0123", max_size=3)),
    st.just(b": comment"),
    st.just(b""),
)


@settings(max_examples=150, deadline=None)
@given(
    body_lines=st.lists(lines, max_size=30),
    crlf=st.booleans(),
    points=st.lists(st.integers(min_value=0, max_value=10_000), max_size=12),
)
def test_events_do_not_depend_on_where_the_reads_are_cut(
    body_lines: list[bytes], crlf: bool, points: list[int]
) -> None:
    body = (b"\r\n" if crlf else b"\n").join(body_lines) + b"\n\n"
    assert events_of(cut(body, points)) == events_of([body])


def test_many_events_in_one_read_all_arrive_in_order() -> None:
    body = b"".join(b"data: %d\n\n" % i for i in range(5000))
    assert [e.data for e in events_of([body])] == [str(i) for i in range(5000)]


def test_one_event_over_many_reads_arrives_whole() -> None:
    value = b"x" * 100_000
    body = b"event: big\ndata: " + value + b"\n\n"
    reads = [body[i : i + 1000] for i in range(0, len(body), 1000)]
    assert events_of(reads) == [ServerSentEvent(value.decode(), "big")]


def test_a_line_past_the_limit_is_refused_even_before_it_ends() -> None:
    with pytest.raises(ValueError, match="line larger than 64 bytes"):
        events_of([b"data: " + b"x" * 100], max_event_bytes=64)
