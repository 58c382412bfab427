"""The ``patchwire`` entry point: registers the ``redis`` limiter and cache backends.

redis-py is imported only when a connector selects one of them, so ``import patchwire``
and ``patchwire --help`` stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from patchwire.hookspecs import hookimpl

if TYPE_CHECKING:
    from patchwire.registry import BackendRegistrar

    from patchwire_redis.cache import RedisCacheBackend
    from patchwire_redis.limiter import RedisLimiterBackend

__all__ = ["RedisPlugin", "plugin"]


class RedisPlugin:
    PATCHWIRE_CONTRACT = "1.0"

    @hookimpl
    def patchwire_register_backends(self, register: BackendRegistrar) -> None:
        register.limiter("redis", _limiter)
        register.cache("redis", _cache)


# The factories get the hub's clock and cache sizes but no configuration table, so the
# server comes from the environment (see patchwire_redis.connection). The clock is not
# used: shared state is timed by the Redis server.


def _limiter(**kwargs: Any) -> RedisLimiterBackend:
    from patchwire_redis.connection import env_prefix, env_url
    from patchwire_redis.limiter import RedisLimiterBackend

    return RedisLimiterBackend(env_url(), prefix=env_prefix())


def _cache(**kwargs: Any) -> RedisCacheBackend:
    from patchwire_redis.cache import RedisCacheBackend
    from patchwire_redis.connection import env_prefix, env_url

    return RedisCacheBackend(
        env_url(), prefix=env_prefix(), default_ttl=kwargs.get("default_ttl", 3600.0)
    )


plugin = RedisPlugin()
