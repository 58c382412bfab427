"""EmbeddingBatcher: linger and size bounds, own vector per caller, errors, cancellation."""

from __future__ import annotations

import asyncio
import gc
import random
import zlib
from collections.abc import Sequence

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.batching import BatchInfo, EmbeddingBatcher
from patchwire.clock import VirtualClock
from patchwire.errors import IntegrationError

LINGER = 0.004


def vector(text: str) -> tuple[float, ...]:
    return (float(len(text)), float(sum(map(ord, text))), float(zlib.crc32(text.encode())))


@attrs.frozen
class Sent:
    at: float
    texts: tuple[str, ...]
    info: BatchInfo


class Provider:
    """Records every batch; answers one vector per text after ``latency`` on the clock."""

    def __init__(self, clock: VirtualClock, latency: float = 0.0) -> None:
        self.clock = clock
        self.latency = latency
        self.batches: list[Sent] = []
        self.completed = 0
        self.cancelled = 0
        self.fail_with: BaseException | None = None
        self.short_by = 0

    async def send(self, texts: Sequence[str], info: BatchInfo) -> Sequence[tuple[float, ...]]:
        self.batches.append(Sent(self.clock.now(), tuple(texts), info))
        try:
            await self.clock.sleep(self.latency)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        if self.fail_with is not None:
            raise self.fail_with
        self.completed += 1
        return [vector(t) for t in texts][self.short_by :]


def make(
    max_batch: int = 8, linger: float = LINGER, latency: float = 0.0
) -> tuple[VirtualClock, Provider, EmbeddingBatcher[tuple[float, ...]]]:
    clock = VirtualClock()
    provider = Provider(clock, latency)
    return (
        clock,
        provider,
        EmbeddingBatcher(clock, provider.send, max_batch=max_batch, linger=linger),
    )


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def leftover_tasks() -> list[asyncio.Task[object]]:
    current = asyncio.current_task()
    return [
        t
        for t in asyncio.all_tasks()
        if t is not current and not t.done() and t.get_name() != "patchwire-virtual-clock"
    ]


@settings(max_examples=80, deadline=None)
@given(
    max_batch=st.integers(1, 6),
    # Gaps in quarter-lingers, so arrivals often land exactly on a batch's closing time.
    gaps=st.lists(st.integers(0, 9), min_size=1, max_size=30),
)
def test_batches_respect_max_batch_and_linger(max_batch: int, gaps: list[int]) -> None:
    """Invariants, for any arrival pattern: no batch exceeds max_batch; every text is sent
    exactly once and its caller gets its own vector; a batch leaves no later than linger
    after its first member arrived, holds only members that arrived by then, and leaves
    before linger only when full (then at once, when its last member arrived)."""

    async def run() -> None:
        clock, provider, batcher = make(max_batch=max_batch)
        arrivals: dict[str, float] = {}
        offsets = [sum(gaps[: i + 1]) * LINGER / 4 for i in range(len(gaps))]

        async def caller(i: int, at: float) -> None:
            await clock.sleep(at)
            text = f"text-{i}"
            arrivals[text] = clock.now()
            assert await batcher.submit(text) == vector(text)

        await asyncio.gather(*(caller(i, at) for i, at in enumerate(offsets)))
        await batcher.aclose()

        sent = [t for batch in provider.batches for t in batch.texts]
        assert sorted(sent) == sorted(arrivals)
        for batch in provider.batches:
            assert 1 <= len(batch.texts) <= max_batch
            assert batch.info.size == len(batch.texts)
            first = min(arrivals[t] for t in batch.texts)
            last = max(arrivals[t] for t in batch.texts)
            assert last <= batch.at <= first + LINGER
            if len(batch.texts) < max_batch:
                assert batch.at == first + LINGER
            else:
                assert batch.at == last
        assert leftover_tasks() == []

    asyncio.run(run())


async def test_every_caller_gets_the_vector_for_its_own_input() -> None:
    """Many concurrent submitters, shuffled inputs with duplicates, a slow provider."""
    clock, provider, batcher = make(max_batch=16, latency=0.01)
    rng = random.Random(7)
    texts = [f"doc-{rng.randrange(120)}" for _ in range(400)]
    rng.shuffle(texts)

    async def caller(text: str) -> tuple[str, tuple[float, ...]]:
        await clock.sleep(rng.random() * 0.05)
        return text, await batcher.submit(text)

    results = await asyncio.gather(*(caller(t) for t in texts))
    for text, got in results:
        assert got == vector(text)
    for batch in provider.batches:
        assert len(batch.texts) <= 16
        assert len(set(batch.texts)) == len(batch.texts), "duplicates are sent once"
    await batcher.aclose()


async def test_requests_within_linger_travel_together_and_later_ones_do_not() -> None:
    clock, provider, batcher = make(max_batch=10)

    async def at(when: float, text: str) -> None:
        await clock.sleep(when)
        await batcher.submit(text)

    await asyncio.gather(at(0.0, "a"), at(LINGER / 2, "b"), at(LINGER * 1.5, "c"))
    assert [(b.at, b.texts) for b in provider.batches] == [
        (LINGER, ("a", "b")),
        (LINGER * 2.5, ("c",)),
    ]


async def test_a_full_batch_leaves_at_once() -> None:
    clock, provider, batcher = make(max_batch=3, linger=10.0)
    await asyncio.gather(*(batcher.submit(t) for t in "abc"))
    assert [(b.at, b.texts) for b in provider.batches] == [(0.0, ("a", "b", "c"))]
    assert clock.now() == 0.0


async def test_batch_info_carries_highest_priority_and_earliest_deadline() -> None:
    _, provider, batcher = make()
    await asyncio.gather(
        batcher.submit("a", priority=1, deadline=9.0),
        batcher.submit("b", priority=5),
        batcher.submit("c", priority=-2, deadline=3.0),
    )
    await asyncio.gather(batcher.submit("d"))
    assert [b.info for b in provider.batches] == [
        BatchInfo(size=3, priority=5, deadline=3.0),
        BatchInfo(size=1, priority=0, deadline=None),
    ]


async def test_a_send_error_reaches_every_member() -> None:
    _, provider, batcher = make()
    boom = ConnectionError("provider down")
    provider.fail_with = boom
    results = await asyncio.gather(*(batcher.submit(t) for t in "abc"), return_exceptions=True)
    assert results == [boom, boom, boom]
    assert len(provider.batches) == 1


async def test_a_wrong_vector_count_is_an_integration_error_for_every_member() -> None:
    _, provider, batcher = make()
    provider.short_by = 1
    results = await asyncio.gather(*(batcher.submit(t) for t in "abc"), return_exceptions=True)
    assert all(isinstance(r, IntegrationError) for r in results)
    assert "batch returned 2 vectors for 3 inputs" in str(results[0])


async def test_a_member_cancelled_before_sending_leaves_its_batch() -> None:
    _, provider, batcher = make()
    stays = asyncio.create_task(batcher.submit("stays"))
    leaves = asyncio.create_task(batcher.submit("leaves"))
    await settle()
    leaves.cancel()
    assert await stays == vector("stays")
    assert leaves.cancelled()
    assert [b.texts for b in provider.batches] == [("stays",)]


async def test_when_every_member_is_cancelled_nothing_is_sent_and_no_timer_is_left() -> None:
    clock, provider, batcher = make()
    members = [asyncio.create_task(batcher.submit(t)) for t in "abc"]
    await settle()
    for member in members:
        member.cancel()
    await asyncio.gather(*members, return_exceptions=True)
    assert clock.pending() == 0
    await clock.sleep(LINGER * 10)
    assert provider.batches == []
    await batcher.aclose()
    assert leftover_tasks() == []


async def test_a_member_cancelled_after_the_flush_but_before_send_is_dropped() -> None:
    """A full batch is flushed synchronously; its task has not called send yet."""
    _, provider, batcher = make(max_batch=2)
    first = asyncio.create_task(batcher.submit("first"))
    await settle()
    second = asyncio.create_task(batcher.submit("second"))
    await asyncio.sleep(0)  # second submits, fills the batch, and the batch task is created
    first.cancel()
    assert await second == vector("second")
    assert [b.texts for b in provider.batches] == [("second",)]


async def test_cancelling_one_caller_after_send_does_not_cancel_the_batch() -> None:
    clock, provider, batcher = make(latency=1.0)
    members = {t: asyncio.create_task(batcher.submit(t)) for t in "abc"}
    await clock.sleep(LINGER * 2)
    assert len(provider.batches) == 1
    members["b"].cancel()
    assert await members["a"] == vector("a")
    assert await members["c"] == vector("c")
    assert members["b"].cancelled()
    assert provider.cancelled == 0
    assert provider.completed == 1


async def test_aclose_flushes_pending_waits_for_batches_and_refuses_new_work() -> None:
    clock, _, batcher = make(linger=100.0, latency=1.0)
    member = asyncio.create_task(batcher.submit("a"))
    await settle()
    await batcher.aclose()
    assert clock.now() == 1.0, "sent at once on close, not after the linger"
    assert await member == vector("a")
    assert leftover_tasks() == []
    with pytest.raises(RuntimeError, match="closed"):
        await batcher.submit("b")


async def test_a_cancelled_aclose_cancels_the_batches_it_was_waiting_for() -> None:
    _, provider, batcher = make(latency=10.0)
    member = asyncio.create_task(batcher.submit("a"))
    await settle()
    closing = asyncio.create_task(batcher.aclose())
    await settle()
    closing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closing
    with pytest.raises(asyncio.CancelledError):
        await member
    await settle()
    assert provider.cancelled == 1
    assert leftover_tasks() == []


async def test_an_answer_that_races_a_cancellation_is_not_reported_as_lost() -> None:
    """The batch fails, then the caller is cancelled in the same loop iteration, before it
    resumed to read the failure: asyncio must not log it as never retrieved."""
    clock, provider, batcher = make(linger=0.25, latency=1.0)
    reported: list[dict[str, object]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _, ctx: reported.append(ctx))
    provider.fail_with = ConnectionError("down")
    member = asyncio.create_task(batcher.submit("a"))
    await clock.sleep(0.25)
    await settle()
    assert len(provider.batches) == 1

    async def cancel_later(task: asyncio.Task[tuple[float, ...]]) -> None:
        # Same wake-up time as the provider, registered later: runs right after it fails.
        await clock.sleep(1.0)
        task.cancel()

    await cancel_later(member)
    await asyncio.wait([member])
    assert member.cancelled()
    # Drop every path to the failed future (its exception's traceback included), so gc
    # collects it now, while this test's handler still listens.
    del member
    provider.fail_with = None
    await batcher.aclose()
    gc.collect()
    assert reported == []


@pytest.mark.parametrize(("max_batch", "linger"), [(0, 0.1), (1, -0.1)])
def test_bad_settings_are_refused(max_batch: int, linger: float) -> None:
    clock = VirtualClock()
    with pytest.raises(ValueError):
        EmbeddingBatcher(clock, Provider(clock).send, max_batch=max_batch, linger=linger)


async def test_a_sent_batch_is_cancelled_when_every_caller_has_gone() -> None:
    """Nobody waits for the answer any more, so the request stops instead of running to its timeout."""
    clock = VirtualClock()
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def send(texts: Sequence[str], info: BatchInfo) -> Sequence[int]:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return []

    batcher: EmbeddingBatcher[int] = EmbeddingBatcher(clock, send, max_batch=2, linger=0.0)
    callers = [asyncio.ensure_future(batcher.submit(t)) for t in ("a", "b")]
    await started.wait()
    callers[0].cancel()
    await asyncio.sleep(0)
    assert not cancelled.is_set()  # one caller still waits
    callers[1].cancel()
    await asyncio.wait_for(cancelled.wait(), 1)
    await batcher.aclose()
