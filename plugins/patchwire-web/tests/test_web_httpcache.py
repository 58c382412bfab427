"""HTTP caching rules: freshness from max-age, revalidation, and the byte bound."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy
from patchwire.http import HttpResponse
from patchwire_web.httpcache import HttpCache, cache_control, fresh_until


def _response(body: bytes = b"<p>x</p>", **headers: str) -> HttpResponse:
    names = {k.replace("_", "-"): v for k, v in headers.items()}
    return HttpResponse(200, CIMultiDictProxy(CIMultiDict(names)), body, "http://h.example/p")


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, 10_000),
    st.integers(0, 10_000),
    st.floats(0, 20_000, allow_nan=False),
    st.floats(0, 1e6, allow_nan=False),
)
def test_an_answer_is_fresh_exactly_for_max_age_minus_its_age(
    max_age: int, age: int, elapsed: float, received: float
) -> None:
    """Invariant: served without a request iff elapsed < max(0, max-age - Age); never after."""
    cache = HttpCache(1 << 20)
    cache.store(
        "k", _response(Cache_Control=f"max-age={max_age}", Age=str(age), ETag='"1"'), received
    )
    stored = cache.get("k")
    assert stored is not None
    assert stored.fresh(received + elapsed) == (elapsed < max(0, max_age - age))


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["no-store", "max-age=60, no-store", "private, no-store"]))
def test_no_store_is_never_stored(directive: str) -> None:
    """Invariant: an answer marked no-store is never kept, validators or not."""
    cache = HttpCache(1 << 20)
    cache.store("k", _response(Cache_Control=directive, ETag='"1"'), 0.0)
    assert cache.get("k") is None
    assert fresh_until(_response(Cache_Control=directive).headers, 0.0) is None


def test_no_cache_is_stored_but_always_revalidated() -> None:
    cache = HttpCache(1 << 20)
    cache.store("k", _response(Cache_Control="no-cache, max-age=600", ETag='"1"'), 5.0)
    stored = cache.get("k")
    assert stored is not None and not stored.fresh(5.0)
    assert stored.validators() == {"If-None-Match": '"1"'}


def test_an_answer_with_nothing_to_revalidate_or_reuse_is_not_stored() -> None:
    cache = HttpCache(1 << 20)
    cache.store("k", _response(), 0.0)
    assert cache.get("k") is None
    cache.store("k", _response(Last_Modified="Wed, 21 Oct 2015 07:28:00 GMT"), 0.0)
    stored = cache.get("k")
    assert stored is not None
    assert stored.validators() == {"If-Modified-Since": "Wed, 21 Oct 2015 07:28:00 GMT"}


def test_a_304_renews_freshness_and_updates_headers_but_keeps_the_body() -> None:
    cache = HttpCache(1 << 20)
    cache.store("k", _response(b"body", ETag='"1"', Cache_Control="max-age=10"), 0.0)
    stored = cache.get("k")
    assert stored is not None
    answer = HttpResponse(
        304,
        CIMultiDictProxy(CIMultiDict({"Cache-Control": "max-age=30", "Content-Length": "0"})),
        b"",
        "http://h.example/p",
    )
    renewed = cache.revalidated("k", stored, answer, 100.0)
    assert renewed.response.body == b"body"
    assert renewed.response.headers["Cache-Control"] == "max-age=30"
    assert "Content-Length" not in renewed.response.headers
    assert renewed.fresh(129.0) and not renewed.fresh(130.0)
    assert cache.get("k") == renewed


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abcdefgh"), st.integers(0, 5000)), max_size=40))
def test_the_store_never_holds_more_bytes_than_its_bound(puts: list[tuple[str, int]]) -> None:
    """Invariant: stored bodies (plus a fixed overhead each) never exceed max_bytes; a body
    larger than the whole bound is simply not kept."""
    cache = HttpCache(8000)
    for key, size in puts:
        cache.store(key, _response(b"x" * size, ETag='"e"'), 0.0)
        held = [cache.get(k) for k in "abcdefgh"]
        assert sum(len(s.response.body) + 512 for s in held if s is not None) <= 8000


def test_cache_control_parsing() -> None:
    assert cache_control({"Cache-Control": 'Max-Age="60", no-cache, private'}) == {
        "max-age": "60",
        "no-cache": None,
        "private": None,
    }
