"""Per-principal budget counters in Redis, so every process draws on one budget.

Each ``take`` (admission) and ``add`` (settlement) is one Lua script over the counters of
every window of every budget the call falls under (``budgets.lua``): all are charged or
none is, exactly as :class:`patchwire.principals.MemoryCounters` does within a process.
A counter's key names its window's start, and it expires a minute after its window ends,
so nothing needs time from the server. Multi-key scripts need one node: with Redis
Cluster, budgets work only when every counter hashes to one slot (not arranged here).

Failures: a refused connection or a timeout is a :class:`TransientError`, any other Redis
error an :class:`IntegrationError`; an admission is never guessed.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from importlib import resources
from typing import TYPE_CHECKING, Any

from patchwire.errors import IntegrationError, TransientError
from patchwire.principals import Charge

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisBudgetCounters"]

_SCRIPT = resources.files("patchwire_redis").joinpath("budgets.lua").read_text("utf-8")
_DIGEST = hashlib.sha1(_SCRIPT.encode("utf-8")).hexdigest()


class RedisBudgetCounters:
    """A :class:`patchwire.principals.BudgetCounters` in Redis."""

    def __init__(
        self, client: Redis, prefix: str, where: str, close: Callable[[], Awaitable[None]]
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._where = where
        self._close = close
        self._tasks: set[asyncio.Task[Any]] = set()

    async def take(self, charges: Sequence[Charge]) -> tuple[int, float] | None:
        if not charges:
            return None
        task = self._spawn("take", charges)
        try:
            index, used = await asyncio.shield(task)
        except asyncio.CancelledError:
            # The script may have charged after the caller went away: give it back.
            task.add_done_callback(lambda t: self._refund(t, charges))
            raise
        return None if index == 0 else (index - 1, used)

    async def add(self, charges: Sequence[Charge]) -> None:
        if charges:
            await asyncio.shield(self._spawn("add", charges))

    async def used(self, key: str) -> float:
        _, used = await self._run("used", [Charge(key, 0.0, 0.0, 0.0)])
        return used

    async def aclose(self) -> None:
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._close()

    def __repr__(self) -> str:
        return f"RedisBudgetCounters({self._where!r}, prefix={self._prefix!r})"

    def _refund(self, task: asyncio.Task[tuple[int, float]], charges: Sequence[Charge]) -> None:
        if task.cancelled() or task.exception() is not None or task.result()[0] != 0:
            return
        back = [Charge(c.key, c.limit, -c.amount, c.ttl) for c in charges if c.amount]
        if back:
            self._spawn("add", back)

    def _spawn(self, op: str, charges: Sequence[Charge]) -> asyncio.Task[tuple[int, float]]:
        task = asyncio.get_running_loop().create_task(self._run(op, charges))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _run(self, op: str, charges: Sequence[Charge]) -> tuple[int, float]:
        from redis.exceptions import ConnectionError, NoScriptError, RedisError, TimeoutError

        keys = [f"{self._prefix}:{c.key}" for c in charges]
        args = [op]
        for c in charges:
            args += [repr(float(c.limit)), repr(float(c.amount)), repr(float(c.ttl))]
        try:
            try:
                reply = await self._client.evalsha(_DIGEST, len(keys), *keys, *args)
            except NoScriptError:
                reply = await self._client.eval(_SCRIPT, len(keys), *keys, *args)
        except (ConnectionError, TimeoutError, OSError) as exc:
            raise TransientError(
                f"budget counters: Redis at {self._where} did not answer"
                f" ({type(exc).__name__}); calls with budgets fail until it is back"
            ) from None
        except RedisError as exc:
            raise IntegrationError(
                f"budget counters: Redis at {self._where} refused the script ({type(exc).__name__})"
            ) from None
        return int(reply[0]), float(reply[1])
