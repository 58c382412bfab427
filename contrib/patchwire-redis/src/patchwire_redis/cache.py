"""The response cache in Redis, shared by every process that uses the same server and prefix.

Values are written with core's data-only codec (:mod:`patchwire.cache_codec`): JSON of
patchwire's own value types, never pickle. Whoever can write to the server chooses the
bytes this backend reads, so reading them must not run code: an entry the codec refuses
(a pickle, a type outside the allowlist, a field of the wrong type) is a miss, counted in
``refused``, logged, and deleted.
"""

from __future__ import annotations

import logging

import patchwire
from patchwire.cache_codec import CacheEncodeError, CacheEntryRefused, decode, encode

from patchwire_redis.connection import (
    DEFAULT_PREFIX,
    DEFAULT_URL,
    Connection,
    Health,
    check_prefix,
    connect,
)

__all__ = ["RedisCacheBackend"]

log = logging.getLogger("patchwire.redis")


class RedisCacheBackend:
    """A :class:`patchwire.cache.CacheBackend` in Redis: ``PREFIX:cache:VERSION:KEY``.

    Each entry expires on the server (``SET ... PX``) after its ttl, rounded down to the
    millisecond so it is never served late. The namespace carries patchwire's version, so
    a process never reads values written by another version's classes (whose fields may
    differ); the codec's format marker guards the encoding itself.

    Redis is a cache here, never a dependency of a call: when it is unreachable or
    refuses a command, ``get`` is a miss and ``set``/``delete`` do nothing; an entry the
    codec refuses is a miss and is deleted, and a value the codec cannot write is not
    stored. None of these reaches the caller. The outage is logged when it begins and
    when it ends; ``refused`` and ``unstorable`` count the other two.

    There is no ``max_entries``: Redis evicts by its own ``maxmemory-policy``.
    """

    def __init__(
        self,
        connection: Connection | str = DEFAULT_URL,
        *,
        prefix: str = DEFAULT_PREFIX,
        default_ttl: float = 3600.0,
    ) -> None:
        if default_ttl <= 0:
            raise ValueError(f"default_ttl must be positive, got {default_ttl}")
        if isinstance(connection, str):
            connection = Connection(connection)
        where = f"{connection.where}: prefix"
        self._namespace = f"{check_prefix(prefix, where)}:cache:{patchwire.__version__}:"
        self._default_ttl = default_ttl
        self._client = connect(connection)
        self._health = Health("cache", connection.url)
        self._where = connection.shown
        #: entries read but refused by the codec (each one a miss)
        self.refused = 0
        #: values not stored because the codec cannot write them
        self.unstorable = 0

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
            return decode(data if isinstance(data, bytes) else data.encode())
        except CacheEntryRefused as refusal:
            self.refused += 1
            log.warning(
                "cache: entry %s in Redis at %s refused and dropped (%s); a miss",
                key,
                self._where,
                refusal,
            )
            await self.delete(key)
            return None

    async def set(self, key: str, value: object, ttl: float | None = None) -> None:
        from redis.exceptions import RedisError

        ttl = self._default_ttl if ttl is None else ttl
        ms = int(ttl * 1000)
        if ms < 1 or value is None:
            await self.delete(key)
            return
        try:
            data = encode(value)
        except CacheEncodeError as err:
            self.unstorable += 1
            # Every call with such a value would say the same: once loudly, then quietly.
            level = logging.WARNING if self.unstorable == 1 else logging.DEBUG
            log.log(level, "cache: not storing %s: %s", key, err)
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
        return f"RedisCacheBackend({self._where!r}, namespace={self._namespace!r})"
