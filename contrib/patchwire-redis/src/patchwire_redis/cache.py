"""The response cache in Redis, shared by every process that uses the same server and prefix.

Values are pickled: the pipeline caches tuples of attrs instances, which JSON cannot carry.
Unpickling runs code chosen by whoever wrote the bytes, so this backend reads only keys
under its own namespace, and the Redis server must be one that only trusted processes can
write to.
"""

from __future__ import annotations

import logging
import pickle
from typing import cast

import patchwire

from patchwire_redis.connection import DEFAULT_PREFIX, DEFAULT_URL, Health, check_prefix, connect

__all__ = ["RedisCacheBackend"]

log = logging.getLogger("patchwire.redis")


class RedisCacheBackend:
    """A :class:`patchwire.cache.CacheBackend` in Redis: ``PREFIX:cache:VERSION:KEY``.

    Each entry expires on the server (``SET ... PX``) after its ttl, rounded down to the
    millisecond so it is never served late. The namespace carries patchwire's version,
    because a pickle of another version's classes may not load as the same object.

    Redis is a cache here, never a dependency of a call: when it is unreachable or
    refuses a command, ``get`` is a miss and ``set``/``delete`` do nothing; an entry that
    no longer unpickles is a miss and is deleted. The outage is logged when it begins and
    when it ends.

    There is no ``max_entries``: Redis evicts by its own ``maxmemory-policy``.
    """

    def __init__(
        self, url: str = DEFAULT_URL, *, prefix: str = DEFAULT_PREFIX, default_ttl: float = 3600.0
    ) -> None:
        if default_ttl <= 0:
            raise ValueError(f"default_ttl must be positive, got {default_ttl}")
        self._namespace = f"{check_prefix(prefix)}:cache:{patchwire.__version__}:"
        self._default_ttl = default_ttl
        self._client = connect(url)
        self._health = Health("cache", url)

    def name(self, key: str) -> str:
        """The Redis key of cache entry ``key``."""
        return self._namespace + key

    async def get(self, key: str) -> object | None:
        from redis.exceptions import RedisError

        try:
            data = await self._client.get(self.name(key))
        except (RedisError, OSError) as err:
            self._health.failed(err, "every lookup is a miss until it is back")
            return None
        self._health.ok()
        if data is None:
            return None
        try:
            value: object = pickle.loads(cast(bytes, data))
        except Exception as err:
            log.warning("cache: dropping entry %s that does not unpickle: %r", key, err)
            await self.delete(key)
            return None
        return value

    async def set(self, key: str, value: object, ttl: float | None = None) -> None:
        from redis.exceptions import RedisError

        ttl = self._default_ttl if ttl is None else ttl
        ms = int(ttl * 1000)
        if ms < 1 or value is None:
            await self.delete(key)
            return
        try:
            data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as err:
            log.warning("cache: not storing %s, its value does not pickle: %r", key, err)
            return
        try:
            await self._client.set(self.name(key), data, px=ms)
        except (RedisError, OSError) as err:
            self._health.failed(err, "responses are not stored until it is back")
            return
        self._health.ok()

    async def delete(self, key: str) -> None:
        from redis.exceptions import RedisError

        try:
            await self._client.delete(self.name(key))
        except (RedisError, OSError) as err:
            self._health.failed(err, "entries cannot be deleted until it is back")
            return
        self._health.ok()

    async def aclose(self) -> None:
        await self._client.aclose()

    def __repr__(self) -> str:
        return f"RedisCacheBackend(namespace={self._namespace!r})"
