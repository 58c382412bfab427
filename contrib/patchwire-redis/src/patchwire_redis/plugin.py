"""The ``patchwire`` entry point: registers the ``redis`` limiter and cache backends.

Each factory receives its ``[backends.NAME]`` table (``table``, a
:class:`patchwire.backends.BackendTable`) and declares the keys it reads in ``settings``,
so core checks them at load. redis-py is imported only when a connector selects one of
them, so ``import patchwire`` and ``patchwire --help`` stay fast.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from patchwire.hookspecs import hookimpl

from patchwire_redis.connection import DEFAULT_PREFIX, DEFAULT_URL

if TYPE_CHECKING:
    from patchwire.backends import BackendTable
    from patchwire.connector import Setting
    from patchwire.registry import BackendRegistrar

    from patchwire_redis.cache import RedisCacheBackend
    from patchwire_redis.connection import Connection
    from patchwire_redis.limiter import RedisLimiterBackend

__all__ = ["RedisPlugin", "plugin", "settings"]


@functools.cache
def settings() -> Mapping[str, Setting]:
    """The keys of a ``[backends.NAME]`` table of type ``redis`` (built on first use:
    ``patchwire.connector`` imports aiohttp, which this entry module must not)."""
    from patchwire.connector import Setting

    return {
        "url": Setting(
            (str,),
            DEFAULT_URL,
            "redis://, rediss:// (TLS) or unix:// URL; a reference (env:/file:) when it"
            " carries a password",
        ),
        "username": Setting((str,), None, "ACL user name"),
        "password": Setting((str,), None, "ACL or requirepass password", secret=True),
        "prefix": Setting((str,), DEFAULT_PREFIX, "key prefix that keeps deployments apart"),
        "max_connections": Setting((int,), None, "connection pool size per connector"),
        "socket_timeout": Setting((int, float), 2.0, "seconds per command and per connect"),
        "tls": Setting((bool,), False, "TLS even for a redis:// URL"),
        "tls_ca_file": Setting((str,), None, "PEM file of CA certificates to trust"),
        "tls_cert_file": Setting((str,), None, "client certificate (PEM) for mutual TLS"),
        "tls_key_file": Setting((str,), None, "client key (PEM) for mutual TLS"),
        "tls_verify": Setting((bool,), True, "verify the server's certificate and host name"),
        "time_source": Setting((str,), "server", "limiter clock: 'server' or 'caller'"),
    }


class RedisPlugin:
    PATCHWIRE_CONTRACT = "1.0"

    @hookimpl
    def patchwire_register_backends(self, register: BackendRegistrar) -> None:
        register.limiter("redis", LimiterFactory())
        register.cache("redis", CacheFactory())


def connection_from(table: BackendTable) -> Connection:
    """The table's connection settings, with references read through the hub's sources."""
    from urllib.parse import urlsplit

    from patchwire_redis.connection import Connection

    url = table.resolve("url") or DEFAULT_URL
    try:
        in_url = urlsplit(url).password
    except ValueError:
        in_url = None
    if in_url:
        # The URL as a whole is masked once resolved; the password alone may show up too.
        table.protect(in_url)
    where = table.where.table or f"backends.{table.name}"
    timeout = table.number("socket_timeout", 2.0, minimum=0.001)
    max_connections = table.optional_integer("max_connections", minimum=1)
    return Connection(
        url=url,
        username=table.string("username"),
        password=table.resolve("password"),
        max_connections=max_connections,
        socket_timeout=timeout,
        tls=table.boolean("tls", False),
        tls_ca_file=table.string("tls_ca_file"),
        tls_cert_file=table.string("tls_cert_file"),
        tls_key_file=table.string("tls_key_file"),
        tls_verify=table.boolean("tls_verify", True),
        where=where,
    )


def _prefix(table: BackendTable) -> str:
    from patchwire_redis.connection import check_prefix

    prefix = table.string("prefix", DEFAULT_PREFIX) or DEFAULT_PREFIX
    try:
        return check_prefix(prefix)
    except Exception:
        raise table.error("prefix", "expected a non-empty key prefix without braces") from None


class _Factory:
    @property
    def settings(self) -> Mapping[str, Setting]:
        """What core checks a table against at load."""
        return settings()


class LimiterFactory(_Factory):
    """``[backends.NAME]`` of type ``redis`` as a limiter backend. The hub's clock is not
    used: shared buckets are timed by the Redis server unless ``time_source = "caller"``."""

    def __call__(self, *, table: BackendTable, **_: Any) -> RedisLimiterBackend:
        from patchwire_redis.limiter import RedisLimiterBackend

        source = table.string("time_source", "server")
        if source not in ("server", "caller"):
            raise table.error("time_source", "expected 'server' or 'caller'")
        return RedisLimiterBackend(
            connection_from(table),
            prefix=_prefix(table),
            time_source="caller" if source == "caller" else "server",
        )


class CacheFactory(_Factory):
    """``[backends.NAME]`` of type ``redis`` as a cache backend (``max_entries`` does not
    apply: Redis evicts by its own policy)."""

    def __call__(
        self, *, table: BackendTable, default_ttl: float = 3600.0, **_: Any
    ) -> RedisCacheBackend:
        from patchwire_redis.cache import RedisCacheBackend

        return RedisCacheBackend(
            connection_from(table), prefix=_prefix(table), default_ttl=default_ttl
        )


plugin = RedisPlugin()
