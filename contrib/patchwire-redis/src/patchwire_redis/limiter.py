"""Limiter buckets in Redis, so that many processes draw on one quota.

Each operation is one Lua script (``buckets.lua``) over the keys of a limiter key's
windows, so it is atomic across processes exactly as :class:`MemoryBackend` is atomic
across tasks, with the same arithmetic. Scripts are sent by digest (EVALSHA) and in full
(EVAL) only when the server does not know them yet, e.g. after a restart.

Time: every process has its own monotonic clock, with its own zero, so a bucket's stamp
cannot come from a caller's ``now``. By default the script reads the server's clock
(``TIME``) and ignores ``now``; a wait it returns is a duration in seconds, which means
the same on every clock. ``TIME`` is wall-clock time: like the memory backend's, a stamp
never moves backwards, so a server clock stepped back refills nothing until it catches
up, and one stepped forward refills at most to capacity.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Sequence
from functools import partial
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal

from patchwire.errors import IntegrationError, TransientError
from patchwire.limiter import AcquireResult, BucketSpec

from patchwire_redis.connection import (
    DEFAULT_PREFIX,
    DEFAULT_URL,
    Connection,
    Health,
    check_prefix,
    connect,
)

if TYPE_CHECKING:
    from patchwire_redis.budgets import RedisBudgetCounters
    from patchwire_redis.tokens import RedisTokenStore

__all__ = ["RedisLimiterBackend", "TimeSource"]

log = logging.getLogger("patchwire.redis")

#: "server": the Redis server's clock (every process sharing buckets must use it);
#: "caller": the ``now`` each operation is given, for one process or a test driving time
TimeSource = Literal["server", "caller"]

_SCRIPT = resources.files("patchwire_redis").joinpath("buckets.lua").read_text("utf-8")
_DIGEST = hashlib.sha1(_SCRIPT.encode("utf-8")).hexdigest()

_Reply = list[bytes]

_CONSEQUENCE = "admissions and settlements fail as transient errors until it is back"


class RedisLimiterBackend:
    """A :class:`patchwire.limiter.LimiterBackend` whose buckets live in Redis.

    A window's state is a hash ``PREFIX:limit:{KEY}:WINDOW`` (the braces keep a key's
    windows in one Redis Cluster slot, which a multi-key script needs). A bucket idle for
    sixteen times its refill time plus a minute expires, and a missing bucket starts full.

    Failures: a refused connection or a timeout raises :class:`TransientError`, any
    other Redis error :class:`IntegrationError`, from every operation. On ``try_acquire``
    (and the ``lower_to`` that precedes an admission) the pipeline retries it within the
    call's deadline: an admission is never guessed, since the quota is shared and what
    the others used is unknown. On ``adjust`` (settling a finished call's tokens) the
    pipeline reports it as a ``limiter_settle_failed`` event with its category and keeps
    the reply: nothing here logs and swallows an error on the caller's behalf.
    """

    def __init__(
        self,
        connection: Connection | str = DEFAULT_URL,
        *,
        prefix: str = DEFAULT_PREFIX,
        time_source: TimeSource = "server",
    ) -> None:
        if isinstance(connection, str):
            connection = Connection(connection)
        if time_source not in ("server", "caller"):
            raise ValueError(f"time_source must be 'server' or 'caller', got {time_source!r}")
        self._prefix = check_prefix(prefix, f"{connection.where}: prefix")
        self._caller_time = time_source == "caller"
        self._where = connection.shown
        self._client = connect(connection)
        self._health = Health("limiter", connection.url)
        # operations and refunds still running for callers that were cancelled
        self._tasks: set[asyncio.Task[_Reply]] = set()

    async def try_acquire(
        self, key: str, specs: Sequence[BucketSpec], costs: Sequence[float], now: float
    ) -> AcquireResult:
        task = self._spawn("take", key, specs, costs, now)
        try:
            reply = await asyncio.shield(task)
        except asyncio.CancelledError:
            # The script may run (or have run) on the server after the caller went away;
            # whatever it charged is given back, so the caller took nothing.
            if any(costs):
                task.add_done_callback(partial(self._refund, key, specs, costs, now))
            raise
        return AcquireResult(reply[0] == b"1", float(reply[1]), _levels(reply))

    async def adjust(
        self, key: str, specs: Sequence[BucketSpec], deltas: Sequence[float], now: float
    ) -> tuple[float, ...]:
        # Shielded: a cancelled caller has already counted the settlement as made.
        return _levels(await asyncio.shield(self._spawn("adjust", key, specs, deltas, now)))

    async def lower_to(
        self, key: str, specs: Sequence[BucketSpec], ceilings: Sequence[float], now: float
    ) -> tuple[float, ...]:
        return _levels(await asyncio.shield(self._spawn("lower", key, specs, ceilings, now)))

    async def aclose(self) -> None:
        """Let operations of cancelled callers (and their refunds) finish, then disconnect."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._client.aclose()

    def budget_counters(self) -> RedisBudgetCounters:
        """Per-principal budget counters on this server (``[principals] backend``)."""
        from patchwire_redis.budgets import RedisBudgetCounters

        return RedisBudgetCounters(self._client, self._prefix, self._where, self.aclose)

    def token_store(self, key: str) -> RedisTokenStore:
        """Per-principal tokens on this server, sealed with ``key`` (base64 of 32 bytes)."""
        from patchwire_redis.tokens import RedisTokenStore, decode_key

        return RedisTokenStore(
            self._client, self._prefix, decode_key(key), self._where, self.aclose
        )

    def keys(self, key: str, specs: Sequence[BucketSpec]) -> list[str]:
        """The Redis keys holding ``key``'s windows."""
        return [f"{self._prefix}:limit:{{{key}}}:{spec.window}" for spec in specs]

    def __repr__(self) -> str:
        source = "caller" if self._caller_time else "server"
        return f"RedisLimiterBackend({self._where!r}, prefix={self._prefix!r}, time={source})"

    # -- running scripts ------------------------------------------------------------------

    def _spawn(
        self,
        op: str,
        key: str,
        specs: Sequence[BucketSpec],
        amounts: Sequence[float],
        now: float,
    ) -> asyncio.Task[_Reply]:
        """Run one operation in its own task, which a cancelled caller cannot interrupt
        between sending the script and reading its reply."""
        task = asyncio.get_running_loop().create_task(self._run(op, key, specs, amounts, now))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _run(
        self,
        op: str,
        key: str,
        specs: Sequence[BucketSpec],
        amounts: Sequence[float],
        now: float,
    ) -> _Reply:
        from redis.exceptions import ConnectionError, NoScriptError, RedisError, TimeoutError

        keys = self.keys(key, specs)
        args: list[str] = [op, repr(float(now)) if self._caller_time else ""]
        for spec, amount in zip(specs, amounts, strict=True):
            args += [repr(float(spec.capacity)), repr(float(spec.rate)), repr(float(amount))]
        try:
            try:
                reply: Any = await self._client.evalsha(_DIGEST, len(keys), *keys, *args)
            except NoScriptError:
                reply = await self._client.eval(_SCRIPT, len(keys), *keys, *args)
        except (ConnectionError, TimeoutError, OSError) as err:
            self._health.failed(err, _CONSEQUENCE)
            raise TransientError(
                f"shared rate limiter: Redis at {self._where} unreachable ({err})"
            ) from None
        except RedisError as err:
            self._health.failed(err, _CONSEQUENCE)
            raise IntegrationError(
                f"shared rate limiter: Redis at {self._where} refused the bucket script ({err})"
            ) from None
        self._health.ok()
        return list(reply)

    def _refund(
        self,
        key: str,
        specs: Sequence[BucketSpec],
        costs: Sequence[float],
        now: float,
        task: asyncio.Task[_Reply],
    ) -> None:
        if task.cancelled() or task.exception() is not None or task.result()[0] != b"1":
            return
        refund = self._spawn("adjust", key, specs, [-cost for cost in costs], now)
        refund.add_done_callback(partial(_report_refund, key))


def _report_refund(key: str, task: asyncio.Task[_Reply]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning(
            "limiter %r: could not give back a cancelled caller's charge: %s",
            key,
            task.exception(),
        )


def _levels(reply: _Reply) -> tuple[float, ...]:
    return tuple(float(level) for level in reply[2:])
