"""A streamed completion (DESIGN §5): retried, failed over and healed by a transform only
before its first chunk reaches the caller; after that a failure ends the stream with a
classified error, and the text already delivered stands."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from patchwire.clock import deadline_scope
from patchwire.errors import PatchwireError
from patchwire.pipeline.attempts import Attempts
from patchwire.pipeline.operations import OPEN_STREAM
from patchwire.pipeline.record import attempt_data
from patchwire.pipeline.route import heal, route
from patchwire.pipeline.stages import feedback
from patchwire.pipeline.target import Target
from patchwire.types import CallOptions, Completion, CompletionRequest, StreamChunk, Usage
from patchwire.wire_bounds import check_usage

if TYPE_CHECKING:
    from patchwire.transforms.driver import Healer

__all__ = ["stream"]


async def stream(
    attempts: Attempts,
    transform: Healer | None,
    targets: Sequence[Target],
    request_for: Callable[[Target], CompletionRequest],
    options: CallOptions,
    transforms: Mapping[str, Any] | None = None,
) -> AsyncIterator[StreamChunk]:
    record = attempts.record
    clock = attempts.clock
    call_id, start, deadline, watching = record.begin(targets, "stream", options, request_for)
    admission = None
    try:
        if record.budgeted(options):
            admission = await record.admit(options, targets[0], request_for(targets[0]))
        # Transforms heal only before the first chunk: once text reached the caller,
        # a changed request would answer a different question.
        path: Sequence[Target] = targets
        make = request_for
        ran: list[str] | None = None  # the transforms that ran, made at the first failure
        while True:
            try:
                (agen, first), target, made, held = await route(
                    attempts, path, "stream", make, OPEN_STREAM, options, deadline, call_id, True
                )
                break
            except PatchwireError as err:
                if ran is None:
                    ran = []
                path, make = heal(
                    transform, err, targets, path, make, ran, call_id, deadline, transforms
                )
        if ran and first is not None:
            first = attrs.evolve(first, transforms=tuple(ran))
    except (PatchwireError, asyncio.CancelledError) as err:
        record.failed(targets, "stream", call_id, start, err, options.principal)
        await record.principal_done(options, admission, error=err)
        raise
    assert held is not None
    usage: Usage | None = None
    tool_calls = 0
    finish: str | None = None
    turn: StreamChunk | None = None  # the finishing chunk, which holds the whole turn
    said: list[str] = []  # the text deltas, kept only for a content observer
    outcome: BaseException | None = None
    try:
        chunk = first
        while chunk is not None:
            if chunk.usage is not None:
                usage = check_usage(chunk.usage)
            finish = chunk.finish_reason or finish
            if chunk.parts:
                # The finishing chunk carries the whole turn, its assembled calls included.
                tool_calls = len(chunk.tool_calls)
                turn = chunk
            if watching:
                said.append(chunk.text)
            yield chunk
            try:
                with deadline_scope(clock, deadline):
                    chunk = await agen.__anext__()
            except StopAsyncIteration:
                chunk = None
    except asyncio.CancelledError as exc:
        outcome = exc
        raise
    except GeneratorExit as exc:
        # The caller stopped reading: not a failure of the provider.
        outcome = exc
        raise
    except Exception as exc:
        # After the first chunk reached the caller nothing is retried or replayed:
        # the stream ends with a classified error and the text already delivered stands.
        cls = attempts.classification(
            target.runtime.connector, exc, deadline, target.runtime.config.timeout
        )
        error = cls.to_error(connector=target.runtime.name, model=target.model, attempts=made)
        error.message = f"stream broke after it started: {error.message}"
        error.details = "partial output was delivered; not retried"
        outcome = error
        record.attempt_failed(
            target, call_id, "stream", made, cls.category, error.message, attempt_data(exc)
        )
        feedback(cls, held.breaker, None)  # the limiter's permit is released below
        held.breaker = None
        record.failed(targets, "stream", call_id, start, error, options.principal)
    finally:
        held.release()
        if held.breaker is not None:
            if outcome is None:
                held.breaker.success()
            else:
                held.breaker.release()
        aclose = getattr(agen, "aclose", None)
        if aclose is not None:
            await aclose()
    if isinstance(outcome, PatchwireError):
        # Raised outside the handler, so the provider's exception is not its context.
        await record.principal_done(options, admission, usage, error=outcome)
        raise outcome
    billed = record.bill(target, usage) if usage is not None else None
    if watching:
        parts = turn.parts if turn is not None else ()
        whole = Completion(text="".join(said), parts=parts, finish_reason=finish)
        record.tell(watching, "reply", call_id, whole)
    record.succeeded(
        target,
        "stream",
        call_id,
        start,
        made,
        usage,
        None if billed is None else billed.cost(),
        False,
        () if billed is None else billed.missing,
        tool_calls=tool_calls,
        reply=(None, finish, None),
    )
    if options.principal is not None:
        await record.principal_done(
            options, admission, usage, None if billed is None else billed.cost()
        )
