"""Where the Redis server is and how patchwire talks to it.

The backend factories receive no configuration table (only the clock and cache sizes), so
the server is named by the environment: ``PATCHWIRE_REDIS_URL`` and, to keep several
deployments apart on one server, ``PATCHWIRE_REDIS_PREFIX``.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from patchwire.errors import ConfigError

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger("patchwire.redis")

__all__ = [
    "DEFAULT_PREFIX",
    "DEFAULT_URL",
    "Health",
    "PREFIX_ENV",
    "URL_ENV",
    "check_prefix",
    "connect",
    "describe",
    "env_prefix",
    "env_url",
]

URL_ENV = "PATCHWIRE_REDIS_URL"
PREFIX_ENV = "PATCHWIRE_REDIS_PREFIX"
DEFAULT_URL = "redis://127.0.0.1:6379/0"
DEFAULT_PREFIX = "patchwire"

# Short enough that a hung server cannot hold a call much longer than a dead one does;
# a URL's own ?socket_timeout=... wins.
_SOCKET_TIMEOUT = 2.0


def env_url() -> str:
    return os.environ.get(URL_ENV) or DEFAULT_URL


def env_prefix() -> str:
    return check_prefix(os.environ.get(PREFIX_ENV) or DEFAULT_PREFIX, PREFIX_ENV)


def check_prefix(prefix: str, where: str = "prefix") -> str:
    # Braces would start a cluster hash tag before the one that keeps a limiter key's
    # windows in one slot, splitting them across nodes.
    if not prefix or "{" in prefix or "}" in prefix:
        raise ConfigError(f"{where}: a non-empty key prefix without braces, got {prefix!r}")
    return prefix


def connect(url: str, **options: Any) -> Redis:
    """A client for ``url`` that never retries on its own.

    redis-py retries a command after a connection error by default; for a limiter script
    that could charge a quota twice (the server may have run it before the connection
    broke), and on every path it would hide an outage behind seconds of backoff, so the
    one retry layer stays patchwire's pipeline.
    """
    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    options.setdefault("socket_timeout", _SOCKET_TIMEOUT)
    options.setdefault("socket_connect_timeout", _SOCKET_TIMEOUT)
    try:
        client = Redis.from_url(url, retry=Retry(NoBackoff(), 0), **options)
    except ValueError as err:
        # The URL may carry a password, so only the parser's complaint is repeated.
        raise ConfigError(f"{URL_ENV}: not a Redis URL ({err})") from None
    if client.connection_pool.connection_kwargs.get("decode_responses"):
        raise ConfigError(f"{URL_ENV}: decode_responses must stay off (cache values are binary)")
    return client


def describe(url: str) -> str:
    """``url`` without its credentials, for messages."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class Health:
    """Logs an outage once when it starts and once when it ends, not once per call."""

    __slots__ = ("_up", "_what", "_where")

    def __init__(self, what: str, url: str) -> None:
        self._what = what
        self._where = describe(url)
        self._up = True

    def failed(self, err: BaseException, consequence: str) -> None:
        if self._up:
            self._up = False
            log.warning(
                "%s: Redis at %s failed (%s); %s", self._what, self._where, err, consequence
            )
        else:
            log.debug("%s: Redis at %s still failing (%s)", self._what, self._where, err)

    def ok(self) -> None:
        if not self._up:
            self._up = True
            log.warning("%s: Redis at %s answers again", self._what, self._where)
