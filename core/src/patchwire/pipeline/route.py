"""Route/fallback and transforms (DESIGN §5): a route's targets tried in order, and what a
request transform answers a failed completion with."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from patchwire.errors import PatchwireError, error_class
from patchwire.events import EventKind
from patchwire.pipeline.attempts import Attempts
from patchwire.pipeline.operations import Operation
from patchwire.pipeline.stages import fill
from patchwire.pipeline.target import Held, Request, Target
from patchwire.types import CallOptions, CompletionRequest

if TYPE_CHECKING:
    from patchwire.transforms.driver import Healer

__all__ = ["heal", "route", "through_targets"]

T = TypeVar("T")


def route(
    attempts: Attempts,
    targets: Sequence[Target],
    operation: str,
    request_for: Callable[[Target], Request],
    op: Operation[T],
    options: CallOptions,
    deadline: float | None,
    call_id: int,
    keep: bool = False,
) -> Awaitable[tuple[T, Target, int, Held | None]]:
    """The first target's reply, else the next target's after a failure marked to move on;
    the attempts counted over every target tried. Several failed targets end in one error
    that holds each target's own failure.

    A route of one target (most) is its attempt loop itself: the caller awaits
    :meth:`Attempts.run` with no coroutine of the route's around it, which would only
    forward (issue 19). It ends as :func:`through_targets` does for one target: the
    reply and its attempts, or the target's own error with the target named on it."""
    if len(targets) != 1:
        return through_targets(
            attempts, targets, operation, request_for, op, options, deadline, call_id, keep
        )
    target = targets[0]
    try:
        request = request_for(target)
    except PatchwireError as err:
        fill(err, target.runtime.name, target.model, 0)
        raise
    return attempts.run(target, operation, op, request, options, deadline, False, call_id, keep)


async def through_targets(
    attempts: Attempts,
    targets: Sequence[Target],
    operation: str,
    request_for: Callable[[Target], Request],
    op: Operation[T],
    options: CallOptions,
    deadline: float | None,
    call_id: int,
    keep: bool = False,
) -> tuple[T, Target, int, Held | None]:
    """:func:`route` over any number of targets, each tried in order."""
    failures: list[PatchwireError] | None = None  # made at the first failure
    total = 0
    last = len(targets) - 1
    for index in range(last + 1):  # a range's iterator is not GC-tracked, enumerate's is
        target = targets[index]
        has_next = index < last
        try:
            result, _, made, held = await attempts.run(
                target,
                operation,
                op,
                request_for(target),
                options,
                deadline,
                has_next,
                call_id,
                keep,
            )
            return result, target, total + made, held
        except PatchwireError as err:
            fill(err, target.runtime.name, target.model, 0)
            total += err.attempts
            if failures is None:
                failures = []
            failures.append(err)
            if has_next and err.fallback:
                attempts.record.event(
                    EventKind.FALLBACK_TAKEN,
                    target.runtime.name,
                    target.model,
                    call_id,
                    operation,
                    attempt=err.attempts,
                    category=err.category.value,
                    target=targets[index + 1].label,
                    message=err.message,
                )
                continue
            if len(failures) == 1:
                raise
            raise error_class(err.category)(
                f"every target of the route failed; last: {err.message}",
                connector=err.connector,
                model=err.model,
                status=err.status,
                code=err.code,
                request_id=err.request_id,
                attempts=total,
                retry_after=err.retry_after,
                failures=failures,
            ) from None
    raise AssertionError("a route has at least one target")


def heal(
    transform: Healer | None,
    error: PatchwireError,
    targets: Sequence[Target],
    route: Sequence[Target],
    request_for: Callable[[Target], CompletionRequest],
    ran: list[str],
    call_id: int,
    deadline: float | None,
    transforms: Mapping[str, Any] | None,
) -> tuple[Sequence[Target], Callable[[Target], CompletionRequest]]:
    """The route and request a request transform answers ``error`` with (``ran`` grows
    with its name); raises ``error`` when none applies. Called from the failed call's
    ``except`` so the happy path pays nothing for transforms."""
    healed = transform and transform(
        targets, route, request_for, error, ran, call_id, deadline, transforms
    )
    if not healed:
        raise error
    return healed
