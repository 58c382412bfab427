"""The retry loop for one route target: DESIGN §5's ``retry ─ circuit breaker ─ rate
limiter ─ auth ─ per-attempt timeout ─ connector``, as the sequence of the stages in
:mod:`patchwire.pipeline.stages`.

The loop owns the permits: whatever ends an attempt (a reply, a failure, a cancellation)
releases or settles the breaker and limiter permits it took, exactly once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import aiohttp
import attrs

from patchwire.auth.attached import Attached, attach
from patchwire.classification import Classification
from patchwire.clock import Clock, deadline_scope
from patchwire.connector import Connector, attempt
from patchwire.errors import Category, PatchwireError
from patchwire.events import EventKind
from patchwire.pipeline.operations import COMPLETE, Operation
from patchwire.pipeline.record import Recorder, attempt_data, timed_out
from patchwire.pipeline.stages import (
    attempt_timeout,
    breaker_permit,
    feedback,
    fill,
    limiter_permit,
    open_connector,
    refresh,
    retry_delay,
    used_tokens,
    validated,
    wants_refresh,
)
from patchwire.pipeline.target import Held, Request, Target
from patchwire.redact import Redactor
from patchwire.runtime import ROTATES
from patchwire.types import CallOptions, ToolRequest
from patchwire.wire_bounds import check_usage

if TYPE_CHECKING:
    from patchwire.auth.base import AuthScheme
    from patchwire.principals.principal import Principal
    from patchwire.runtime import ConnectorRuntime

__all__ = ["Attempts"]

T = TypeVar("T")

# What an Attempt holds until attach() records what the scheme set; attach always
# replaces it before the connector gets the attempt (a failed attach discards the attempt),
# so no attempt's record is this one and the pipeline builds none that is thrown away.
_UNATTACHED = Attached()


class Attempts:
    """Runs a call's attempts against one target until one answers or the target is done."""

    def __init__(
        self,
        *,
        clock: Clock,
        record: Recorder,
        classify: Callable[[Connector, BaseException], Classification],
        session: Callable[[], aiohttp.ClientSession],
        redactor: Redactor,
        scheme_for: Callable[[ConnectorRuntime, Principal | None, str], AuthScheme],
    ) -> None:
        self.clock = clock
        self.record = record
        self._classify = classify
        self._session = session
        self._redactor = redactor
        self._scheme_for = scheme_for

    async def run(
        self,
        target: Target,
        operation: str,
        op: Operation[T],
        request: Request,
        options: CallOptions,
        deadline: float | None,
        has_next: bool,
        call_id: int,
        keep: bool = False,
    ) -> tuple[T, Target, int, Held | None]:
        """The reply, its target, the attempts it took and, with ``keep``, the permits a
        stream holds: :func:`patchwire.pipeline.route.route`'s answer, so that a route of
        one target awaits this coroutine alone (issue 19). A failure leaves with the target
        named on it, as from the route."""
        try:
            rt = target.runtime
            conn = rt.connector
            clock = self.clock
            record = self.record
            if operation != "list_tools":
                request = validated(record, target, operation, request, call_id)
            rt.budget.record_request()  # every logical call earns retry budget
            model = target.model
            breaker, limiter, report = (
                rt.policies(model, conn.limit_key(request))
                if rt.partitioned
                else rt.unpartitioned.get(model) or rt.policies(model, None)
            )
            # Without a token window a request's size changes nothing the limiter does.
            counts = limiter is not None and limiter.counts_tokens
            estimate = conn.estimate_tokens(request) if counts else 0
            # The stage's kept answer (ConnectorRuntime.timeouts), else the stage itself.
            timeout = rt.timeouts.get(operation)
            if timeout is None:
                timeout = attempt_timeout(rt, operation, request)
                if not rt.times_requests:
                    rt.timeouts[operation] = timeout
            principal = options.principal
            # Nearly every call is the service's own: its scheme is the connector's, no lookup.
            scheme = (
                rt.auth
                if principal is None
                else self._scheme_for(
                    rt,
                    principal,
                    request.operation if isinstance(request, ToolRequest) else operation,
                )
            )
            attempt_no = 0
            refreshed = False
            previous_delay: float | None = None
            while True:
                attempt_no += 1
                # The breaker's permit at once while it gives one (closed: nearly always);
                # breaker_permit asks again and raises when it will not (issue 19: its
                # frame, and none at all without a breaker).
                bpermit = None
                if breaker is not None and (bpermit := breaker.try_acquire()) is None:
                    bpermit = breaker_permit(breaker, target, attempt_no - 1)
                lpermit = None
                try:
                    # The limiter admits at once when nothing binds; otherwise it queues by
                    # priority, within the deadline.
                    if (
                        limiter is not None
                        and (lpermit := limiter.admit(estimate, deadline)) is None
                    ):
                        lpermit = await limiter_permit(
                            limiter,
                            record,
                            target,
                            operation,
                            call_id,
                            estimate,
                            options,
                            deadline,
                            attempt_no - 1,
                        )
                    if not rt.opened:
                        await open_connector(rt, clock, deadline)
                    # The attempt, bounded by its own timeout and the call's deadline.
                    ends = clock.now() + timeout
                    if deadline is not None and deadline < ends:
                        ends = deadline
                    # Positional, in field order (tests/core/test_perf_attempt_fill.py holds
                    # it): keyword arguments cost a name match each.
                    this = attempt(
                        attempt_no,
                        clock,
                        self._session(),
                        ends,
                        {},
                        {},
                        rt.ssl if (tls := rt.fixed_ssl) is ROTATES else tls,
                        options.priority,
                        report,
                        _UNATTACHED,  # attach() records what the scheme attached before any use
                    )
                    with deadline_scope(clock, ends):
                        await attach(scheme, this, rt.config.base_url)  # auth
                        # the connector; a completion's own method called here, not
                        # through COMPLETE's send, a frame that only forwards (issue 19)
                        result: T = await (  # type: ignore[assignment]
                            conn.complete(request, this)  # type: ignore[arg-type]
                            if op is COMPLETE
                            else op.send(conn, request, this)
                        )
                        if op.checks_usage:
                            check_usage(result.usage)  # type: ignore[attr-defined]
                except asyncio.CancelledError:
                    if bpermit is not None:
                        bpermit.release()
                    if lpermit is not None:
                        lpermit.release()
                    raise
                except Exception as exc:
                    if lpermit is not None:
                        lpermit.release()
                    if isinstance(exc, PatchwireError) and exc.fallback:
                        # A stage already decided to move on (an open circuit, a refused
                        # admission): the provider was never asked.
                        if bpermit is not None:
                            bpermit.ignore()
                        raise
                    # After a failure: classify, feed back, refresh once, move on or retry.
                    cls = self.classification(conn, exc, deadline, timeout)
                    feedback(cls, bpermit, limiter)
                    record.attempt_failed(
                        target,
                        call_id,
                        operation,
                        attempt_no,
                        cls.category,
                        cls.message,
                        attempt_data(exc),
                    )
                    if wants_refresh(cls, refreshed):
                        refreshed = True
                        if await refresh(clock, scheme, deadline):
                            continue
                    time_left = None if deadline is None else deadline - clock.now()
                    delay = retry_delay(
                        rt, target, cls, attempt_no, time_left, previous_delay, has_next
                    )
                    await self._retry_after(target, operation, call_id, attempt_no, cls, delay)
                    previous_delay = delay
                    continue
                # Success: relax the limiter, charge its tokens, settle or keep the permits.
                if limiter is not None:
                    limiter.on_success()
                    # Only a token window charges a permit its tokens: without one (most
                    # limiters) the reply's usage is not read (issue 19: a stage's call
                    # per success that answered nothing).
                    if lpermit is not None and counts and (used := used_tokens(result)) is not None:
                        await record.settle(
                            lpermit, used, rt.name, target.model, call_id, operation
                        )
                if keep:
                    return result, target, attempt_no, Held(lpermit, bpermit)
                if lpermit is not None:
                    lpermit.release()
                if bpermit is not None:
                    bpermit.success()
                return result, target, attempt_no, None

        except PatchwireError as err:
            fill(err, target.runtime.name, target.model, 0)
            raise

    def classification(
        self, conn: Connector, exc: BaseException, deadline: float | None, timeout: float
    ) -> Classification:
        """What a failure is: a timeout of the attempt or of the whole call, else what the
        classifiers say, its message scrubbed of anything credential-like."""
        if timed_out(exc):
            # Within a millisecond counts as reached: timers may fire a hair early.
            whole = deadline is not None and self.clock.now() >= deadline - 1e-3
            message = (
                "the call's deadline passed" if whole else f"attempt timed out after {timeout:g} s"
            )
            return Classification(Category.DEGRADED, message)
        cls = self._classify(conn, exc)
        if cls.message:
            cls = attrs.evolve(cls, message=self._redactor.scrub(cls.message))
        return cls

    async def _retry_after(
        self,
        target: Target,
        operation: str,
        call_id: int,
        attempt: int,
        cls: Classification,
        delay: float,
    ) -> None:
        """Record the retry, then back off before the next attempt."""
        self.record.event(
            EventKind.RETRY_SCHEDULED,
            target.runtime.name,
            target.model,
            call_id,
            operation,
            attempt=attempt,
            category=cls.category.value,
            duration=delay,
            message=cls.message,
        )
        await self.clock.sleep(delay)
