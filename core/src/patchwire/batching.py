"""Coalescing single embedding requests into provider batches.

Callers submit one text each; texts arriving within ``linger`` seconds of the first
pending one travel together in one ``send`` call (at most ``max_batch`` texts; a full
batch leaves at once). Each batch runs in its own task, so one caller's cancellation
never cancels the request the others are waiting on.

Identical texts in one batch are sent once and the vector is handed to each of their
callers: embeddings are a function of the text, and duplicates would only cost tokens.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

import attrs

from patchwire.clock import Clock, Handle
from patchwire.errors import IntegrationError

__all__ = ["BatchInfo", "EmbeddingBatcher"]

V = TypeVar("V")


@attrs.frozen(slots=True)
class BatchInfo:
    """What the layers below the batcher need to treat a batch as one request.

    ``size`` counts the texts sent (duplicates once). ``priority`` is the highest and
    ``deadline`` the earliest among the members, so the batch is admitted as urgently as
    its most urgent member and never outlives the first member's deadline.
    """

    size: int
    priority: int
    deadline: float | None


@attrs.define(slots=True, eq=False)
class _Member(Generic[V]):
    text: str
    priority: int
    deadline: float | None
    future: asyncio.Future[V]
    batch: list[_Member[V]] | None = None
    task: asyncio.Task[None] | None = None


class EmbeddingBatcher(Generic[V]):
    """Collects ``submit`` calls into batches handed to ``send``.

    ``send(texts, info)`` must return one vector per text, in order. The batcher does
    not enforce deadlines itself: a caller's deadline cancels that caller (which leaves
    its batch if not yet sent), and ``info.deadline`` lets the layers below bound the
    batch's own retries.
    """

    def __init__(
        self,
        clock: Clock,
        send: Callable[[Sequence[str], BatchInfo], Awaitable[Sequence[V]]],
        *,
        max_batch: int,
        linger: float = 0.002,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        if linger < 0:
            raise ValueError(f"linger must be >= 0, got {linger}")
        self._clock = clock
        self._send = send
        self._max_batch = max_batch
        self._linger = linger
        self._pending: list[_Member[V]] = []
        self._timer: Handle | None = None
        self._batches: set[asyncio.Task[None]] = set()
        self._closed = False

    async def submit(self, text: str, *, priority: int = 0, deadline: float | None = None) -> V:
        """The vector for ``text``, sent in a batch with its neighbours."""
        if self._closed:
            raise RuntimeError("the embedding batcher is closed")
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        member = _Member(text, priority, deadline, future)
        self._pending.append(member)
        if len(self._pending) >= self._max_batch:
            self._flush()
        elif len(self._pending) == 1:
            self._timer = self._clock.call_at(self._clock.now() + self._linger, self._flush)
        try:
            return await future
        except asyncio.CancelledError:
            self._withdraw(member)
            raise

    async def aclose(self) -> None:
        """Send what is pending, wait for every batch in flight, and refuse new submits.

        If ``aclose`` itself is cancelled, the batches still running are cancelled too,
        so no task outlives the batcher.
        """
        self._closed = True
        if self._pending:
            self._flush()
        try:
            while self._batches:
                await asyncio.wait(tuple(self._batches))
        except asyncio.CancelledError:
            for task in self._batches:
                task.cancel()
            raise

    def _withdraw(self, member: _Member[V]) -> None:
        if member in self._pending:
            self._pending.remove(member)
            if not self._pending:
                self._cancel_timer()
            return
        # Already sent: when every caller of that batch has gone, nobody needs the answer,
        # so the request is cancelled rather than left running until it times out.
        batch = member.batch
        if member.task is not None and batch is not None and all(m.future.done() for m in batch):
            member.task.cancel()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _flush(self) -> None:
        self._cancel_timer()
        members, self._pending = self._pending, []
        task = asyncio.get_running_loop().create_task(
            self._run(members), name=f"patchwire-embedding-batch-{len(members)}"
        )
        for member in members:
            member.batch = members
            member.task = task
        self._batches.add(task)
        task.add_done_callback(self._batches.discard)

    async def _run(self, members: list[_Member[V]]) -> None:
        # Members cancelled between the flush and this task's first step leave here.
        live = [m for m in members if not m.future.done()]
        if not live:
            return
        slots: dict[str, int] = {}
        for member in live:
            slots.setdefault(member.text, len(slots))
        texts = list(slots)
        deadlines = [m.deadline for m in live if m.deadline is not None]
        info = BatchInfo(
            size=len(texts),
            priority=max(m.priority for m in live),
            deadline=min(deadlines) if deadlines else None,
        )
        try:
            try:
                vectors = await self._send(texts, info)
            except Exception as exc:
                for member in live:
                    if not member.future.done():
                        member.future.set_exception(exc)
                return
            if len(vectors) != len(texts):
                error = IntegrationError(
                    f"batch returned {len(vectors)} vectors for {len(texts)} inputs"
                )
                for member in live:
                    if not member.future.done():
                        member.future.set_exception(error)
                return
            for member in live:
                if not member.future.done():
                    member.future.set_result(vectors[slots[member.text]])
        finally:
            # Only a cancelled batch (aclose cancelled) gets here with members unanswered.
            for member in live:
                member.future.cancel()
