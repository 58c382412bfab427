"""RedisCacheBackend against a real Redis: values round-trip through core's data-only codec,
entries expire on the server no later than their ttl, only the backend's namespace is
read, and an outage is a miss. (The attack tests, a crafted pickle and a foreign type,
are in tests/security/test_cache_store.py.)"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

import patchwire
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.cache_codec import FORMAT, decode
from patchwire.types import Completion, EmbeddingBatch, Usage
from patchwire_redis.cache import RedisCacheBackend


async def test_pipeline_values_round_trip(redis_url: str, prefix: str) -> None:
    cache = RedisCacheBackend(redis_url, prefix=prefix)
    value = (
        Completion("hi", Usage(input_tokens=3, output_tokens=1), model="m", raw={"id": "x"}),
        0,
        1,
    )
    try:
        assert await cache.get("k") is None
        await cache.set("k", value, 60)
        got = await cache.get("k")
        assert got == value
        assert isinstance(got, tuple)
        assert got[0].raw == {"id": "x"}
        await cache.set("e", EmbeddingBatch(((1.0, 2.0),), Usage(input_tokens=2)), 60)
        assert await cache.get("e") == EmbeddingBatch(((1.0, 2.0),), Usage(input_tokens=2))
        await cache.delete("k")
        assert await cache.get("k") is None
    finally:
        await cache.aclose()


@settings(max_examples=50, deadline=None)
@given(st.floats(min_value=0.0, max_value=1e7, allow_nan=False) | st.none())
def test_an_entry_never_outlives_its_ttl(redis_server: Any, ttl: float | None) -> None:
    """TTL bound: the server's expiry of an entry is at most its ttl (the default ttl when
    none is given); a ttl under a millisecond stores nothing."""

    async def scenario() -> None:
        cache = RedisCacheBackend(redis_server.url, prefix=f"pwttl{uuid.uuid4().hex[:12]}")
        try:
            await cache.set("k", "stale", 60)
            await cache.set("k", "v", ttl)
            left = await cache._client.pttl(cache.name("k"))
            limit = 3600.0 if ttl is None else ttl
            if limit < 0.001:
                assert left == -2  # no such key
                assert await cache.get("k") is None
            elif limit < 10.0:
                # may already be gone by the time it is looked at (a loaded machine can take
                # seconds between two awaits), but never lives longer
                assert left == -2 or 0 < left <= limit * 1000
            else:
                assert 0 < left <= limit * 1000
                assert await cache.get("k") == "v"
        finally:
            await cache.aclose()

    asyncio.run(scenario())


@pytest.mark.integration
async def test_an_expired_entry_is_a_miss(redis_url: str, prefix: str) -> None:
    """Real time: the expiry under test is the Redis server's."""
    cache = RedisCacheBackend(redis_url, prefix=prefix)
    try:
        started = time.monotonic()
        await cache.set("k", "v", 0.3)
        value = await cache.get("k")
        if time.monotonic() - started < 0.3:  # a loaded machine may take longer than the ttl
            assert value == "v"
        await asyncio.sleep(0.35)
        assert await cache.get("k") is None
    finally:
        await cache.aclose()


async def test_only_the_backends_namespace_is_read(redis_url: str, prefix: str) -> None:
    cache = RedisCacheBackend(redis_url, prefix=prefix)
    try:
        await cache.set("k", "mine", 60)
        assert cache.name("k") == f"{prefix}:cache:{patchwire.__version__}:k"
        assert await cache._client.get(f"{prefix}:cache:{patchwire.__version__}:k") is not None
        await cache._client.set("k", b"not an entry")
        await cache._client.set(f"{prefix}x:cache:{patchwire.__version__}:j", b"nor this")
        assert await cache.get("k") == "mine"
        assert await cache.get("j") is None
        await cache.set("none", None, 60)
        assert await cache.get("none") is None
    finally:
        await cache.aclose()


async def test_an_entry_the_codec_refuses_is_a_counted_miss_and_goes(
    redis_url: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    cache = RedisCacheBackend(redis_url, prefix=prefix)
    try:
        await cache._client.set(cache.name("k"), b"\x80\x05garbage")
        assert await cache.get("k") is None
        assert await cache._client.exists(cache.name("k")) == 0
        assert cache.refused == 1
        assert "refused and dropped" in caplog.text
    finally:
        await cache.aclose()


async def test_a_value_the_codec_cannot_write_is_not_stored(redis_url: str, prefix: str) -> None:
    cache = RedisCacheBackend(redis_url, prefix=prefix)
    try:
        await cache.set("k", lambda: None, 60)
        assert await cache.get("k") is None
        assert await cache._client.exists(cache.name("k")) == 0
        assert cache.unstorable == 1
    finally:
        await cache.aclose()


async def test_entries_are_written_in_the_codecs_format_never_pickled(
    redis_url: str, prefix: str
) -> None:
    cache = RedisCacheBackend(redis_url, prefix=prefix)
    try:
        await cache.set("k", (Completion("hi"), 0, 1), 60)
        raw = await cache._client.get(cache.name("k"))
        assert raw.startswith(FORMAT)
        assert decode(raw) == (Completion("hi"), 0, 1)
    finally:
        await cache.aclose()


async def test_an_outage_is_a_miss_logged_once_and_the_cache_recovers(
    own_redis: Callable[[], Any], prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    server = own_redis()
    cache = RedisCacheBackend(server.url, prefix=prefix)
    try:
        await cache.set("k", "v", 60)
        assert await cache.get("k") == "v"
        server.kill()
        assert await cache.get("k") is None
        await cache.set("k", "w", 60)
        await cache.delete("k")
        assert await cache.get("k") is None
        warnings = [r for r in caplog.records if r.name == "patchwire.redis"]
        assert len(warnings) == 1
        assert "every lookup is a miss" in warnings[0].getMessage()
        server.start()  # an empty server: nothing was persisted
        assert await cache.get("k") is None
        await cache.set("k", "x", 60)
        assert await cache.get("k") == "x"
        assert "answers again" in caplog.records[-1].getMessage()
    finally:
        await cache.aclose()
