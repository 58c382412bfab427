"""Where the Redis server is and how patchwire talks to it.

A backend is configured by its ``[backends.NAME]`` table (see :mod:`patchwire_redis.plugin`
and the README); :class:`Connection` is that table's connection part, already resolved:
the URL (a reference in configuration when it carries a password), an ACL user and
password, the pool size, timeouts and TLS files.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import attrs
from patchwire.errors import ConfigError

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger("patchwire.redis")

__all__ = [
    "DEFAULT_PREFIX",
    "DEFAULT_URL",
    "Connection",
    "Health",
    "check_prefix",
    "connect",
    "describe",
]

DEFAULT_URL = "redis://127.0.0.1:6379/0"
DEFAULT_PREFIX = "patchwire"

# Short enough that a hung server cannot hold a call much longer than a dead one does;
# a URL's own ?socket_timeout=... wins.
_SOCKET_TIMEOUT = 2.0


@attrs.frozen(repr=False)
class Connection:
    """How to reach one Redis server. ``password`` and the URL never show in a repr."""

    url: str = DEFAULT_URL
    username: str | None = None
    password: str | None = None
    #: connections in the pool at most (redis-py's default is unbounded)
    max_connections: int | None = None
    socket_timeout: float = _SOCKET_TIMEOUT
    #: TLS even for a ``redis://`` URL (``rediss://`` asks for it too)
    tls: bool = False
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    tls_verify: bool = True
    #: where errors point: the configuration table, e.g. "backends.redis"
    where: str = "redis"

    @property
    def shown(self) -> str:
        """The server without credentials, for messages."""
        return describe(self.url)

    def __repr__(self) -> str:
        return f"Connection({self.shown!r}, where={self.where!r})"


def check_prefix(prefix: str, where: str = "prefix") -> str:
    # Braces would start a cluster hash tag before the one that keeps a limiter key's
    # windows in one slot, splitting them across nodes.
    if not isinstance(prefix, str) or not prefix or "{" in prefix or "}" in prefix:
        raise ConfigError(f"{where}: a non-empty key prefix without braces is required")
    return prefix


def connect(connection: Connection | str) -> Redis:
    """A client for ``connection`` that never retries on its own.

    redis-py retries a command after a connection error by default; for a limiter script
    that could charge a quota twice (the server may have run it before the connection
    broke), and on every path it would hide an outage behind seconds of backoff, so the
    one retry layer stays patchwire's pipeline.
    """
    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    if isinstance(connection, str):
        connection = Connection(connection)
    options: dict[str, Any] = {
        "socket_timeout": connection.socket_timeout,
        "socket_connect_timeout": connection.socket_timeout,
    }
    if connection.username is not None:
        options["username"] = connection.username
    if connection.password is not None:
        options["password"] = connection.password
    if connection.max_connections is not None:
        options["max_connections"] = connection.max_connections
    url = connection.url
    if connection.tls or url.startswith("rediss://"):
        if url.startswith("redis://"):
            url = "rediss://" + url[len("redis://") :]
        options["ssl_cert_reqs"] = "required" if connection.tls_verify else "none"
        options["ssl_check_hostname"] = connection.tls_verify
        for option, path in (
            ("ssl_ca_certs", connection.tls_ca_file),
            ("ssl_certfile", connection.tls_cert_file),
            ("ssl_keyfile", connection.tls_key_file),
        ):
            if path is not None:
                options[option] = path
    try:
        client = Redis.from_url(url, retry=Retry(NoBackoff(), 0), **options)
    except ValueError:
        # Only the scheme is safe to repeat: the URL may carry a password, and redis-py's
        # message may quote it.
        raise ConfigError(
            f"{connection.where}: url: not a Redis URL (use redis://, rediss:// or unix://;"
            f" {_scheme_of(url)} was given)"
        ) from None
    if client.connection_pool.connection_kwargs.get("decode_responses"):
        raise ConfigError(
            f"{connection.where}: url: decode_responses must stay off (cache values are binary)"
        )
    return client


def _scheme_of(url: str) -> str:
    scheme, sep, _ = url.partition("://")
    return f"'{scheme}://'" if sep and scheme.isalnum() else "no scheme"


def describe(url: str) -> str:
    """``url`` without its credentials or query, for messages."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<an unparsable URL>"
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
