"""One call's path (DESIGN §5), the same for a completion, a stream, an embedding and a tool call.

    metrics ─ deadline ─ cache (single-flight) ─ batching (embeddings) ─ route/fallback
      ─ retry ─ circuit breaker ─ rate limiter ─ concurrency ─ auth ─ attempt timeout ─ connector

It is written as plain nested calls rather than a chain of middleware objects: each
layer is one policy object from its own module (retry, budget, breaker, limiter, cache,
batching), and the pipeline only sequences them, which keeps the per-call overhead to a
handful of function calls.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

import aiohttp
import attrs

from patchwire import content
from patchwire.auth.attached import attach
from patchwire.batching import BatchInfo, EmbeddingBatcher
from patchwire.breaker import BreakerPermit
from patchwire.cache import entry_shape, is_vector
from patchwire.cachekey import cache_key
from patchwire.classification import Classification
from patchwire.clock import Clock, deadline_scope
from patchwire.connector import Attempt, Connector
from patchwire.errors import (
    Category,
    CircuitOpenError,
    IntegrationError,
    PatchwireError,
    RateLimitedError,
    chain_text,
    error_class,
    seal,
)
from patchwire.escalation import Failure
from patchwire.events import Event, EventKind
from patchwire.features import check_request, finish_output
from patchwire.limiter import LimiterRefused, Permit
from patchwire.output import OutputSpec, OutputValidationError
from patchwire.prices import Bill, PriceTable
from patchwire.redact import Redactor
from patchwire.runtime import ConnectorRuntime
from patchwire.tools import ToolArgumentsError
from patchwire.types import (
    CallOptions,
    Completion,
    CompletionRequest,
    Embedding,
    EmbeddingBatch,
    EmbeddingRequest,
    StreamChunk,
    ToolRequest,
    ToolResult,
    Usage,
)
from patchwire.wire_bounds import check_usage

if TYPE_CHECKING:
    from patchwire.auth.base import AuthScheme
    from patchwire.principals.budgets import Admission
    from patchwire.principals.gate import PrincipalGate
    from patchwire.principals.principal import Principal
    from patchwire.transforms.driver import Healer

__all__ = ["Pipeline", "Target"]

log = logging.getLogger("patchwire.pipeline")

T = TypeVar("T")
Request = CompletionRequest | EmbeddingRequest | ToolRequest

# Outcomes the breaker counts; the rest (bad input, auth) say nothing about the provider's health.
_BREAKER_FAILURES = frozenset({Category.TRANSIENT, Category.DEGRADED, Category.RATE_LIMITED})
# After these a route moves on at once instead of retrying the same target.
_MOVE_ON = frozenset({Category.DEGRADED, Category.CIRCUIT_OPEN, Category.QUOTA_EXHAUSTED})
# What embed and tool calls cache; a shared store's answer of another shape is a miss.
_EMBED_ENTRY = entry_shape(is_vector, int, (float, int, type(None)))
_TOOL_ENTRY = entry_shape(ToolResult, int)
# A target without a model (a tool) has no price: its calls' cost is unknown.
_NO_MODEL_BILL = Bill(charges=(), missing=("price",))


@attrs.frozen
class Target:
    runtime: ConnectorRuntime
    model: str | None

    @property
    def label(self) -> str:
        return f"{self.runtime.name}:{self.model}" if self.model else self.runtime.name


@attrs.define
class _Held:
    """Permits a stream keeps until its last chunk."""

    limiter: Permit | None
    breaker: BreakerPermit | None

    def release(self) -> None:
        if self.limiter is not None:
            self.limiter.release()
            self.limiter = None


class Pipeline:
    def __init__(
        self,
        *,
        clock: Clock,
        emit: Callable[[Event], None],
        classify: Callable[[Connector, BaseException], Classification],
        escalate: Callable[[Failure], None],
        escalate_categories: Callable[[ConnectorRuntime], frozenset[Category]],
        session: Callable[[], aiohttp.ClientSession],
        prices: PriceTable,
        redactor: Redactor,
        transform: Healer | None = None,
    ) -> None:
        self.clock = clock
        #: request transforms for failed completions (patchwire.transforms.driver)
        self._transform = transform
        self.emit = emit
        self._classify = classify
        self._escalate = escalate
        self._escalate_categories = escalate_categories
        self._session = session
        self.prices = prices
        self._redactor = redactor
        self._ids = itertools.count(1)
        #: per-principal credentials, budgets and ledger (set by the hub)
        self.principals: PrincipalGate | None = None
        # call id -> who the call is for, put on its started/succeeded/failed events
        self._who: dict[int, Mapping[str, object]] = {}

    def _event(
        self,
        kind: EventKind,
        connector: str,
        model: str | None,
        call_id: int,
        operation: str,
        **fields: Any,
    ) -> None:
        """Emit one event of this call, stamped with the clock's reading now."""
        self.emit(
            Event(
                kind,
                connector,
                model,
                time=self.clock.now(),
                call_id=call_id,
                operation=operation,
                **fields,
            )
        )

    async def _settle(
        self,
        permit: Permit,
        used: int,
        connector: str,
        model: str | None,
        call_id: int,
        operation: str,
    ) -> None:
        """Charge a finished call's actual tokens to its limiter.

        The reply is already in hand, so a limiter whose shared store cannot settle (Redis
        down) does not fail the call: its classified error becomes a
        ``limiter_settle_failed`` event, seen by every sink, instead of being swallowed.
        """
        try:
            await permit.reconcile(used)
        except PatchwireError as err:
            self._event(
                EventKind.LIMITER_SETTLE_FAILED,
                connector,
                model,
                call_id,
                operation,
                category=err.category.value,
                message=self._redactor.redact(err.message),
            )

    def _features(
        self,
        rt: ConnectorRuntime,
        model: str | None,
        call_id: int,
        operation: str,
        request: CompletionRequest,
    ) -> CompletionRequest:
        """Refuse features the connector lacks; drop (or refuse) sampling knobs it cannot send."""
        request, dropped = check_request(rt.connector, request, rt.config.unsupported_params)
        for param in dropped:
            self._event(
                EventKind.PARAM_DROPPED,
                rt.name,
                model,
                call_id,
                operation,
                message=f"{param} dropped: connector type '{rt.config.type}' cannot send it",
                data={"param": param},
            )
        return request

    # --- the retry loop for one target ----------------------------------------------------

    async def _attempts(
        self,
        target: Target,
        operation: str,
        request: Request,
        invoke: Callable[[Connector, Any, Attempt], Awaitable[T]],
        options: CallOptions,
        deadline: float | None,
        has_next: bool,
        call_id: int,
        keep: bool = False,
    ) -> tuple[T, int, _Held | None]:
        rt = target.runtime
        conn = rt.connector
        clock = self.clock
        model = target.model
        if operation != "list_tools":
            try:
                if isinstance(request, CompletionRequest):
                    request = self._features(rt, model, call_id, operation, request)
                conn.validate(request)
            except PatchwireError as invalid:
                raise self._fill(invalid, rt.name, model, 0) from None
        rt.budget.record_request()
        breaker = rt.breaker(model)
        partition = conn.limit_key(request)
        limiter = rt.limiter(partition)
        estimate = conn.estimate_tokens(request) if limiter is not None else 0
        timeout = rt.config.embed_timeout if operation == "embed" else rt.config.timeout
        if operation != "list_tools":
            timeout = conn.timeout_for(request) or timeout  # an operation's own timeout
        report = rt.report_limits(model, partition)
        scheme = self._scheme(
            rt,
            options.principal,
            request.operation if isinstance(request, ToolRequest) else operation,
        )
        attempt_no = 0
        refreshed = False
        previous_delay: float | None = None
        while True:
            attempt_no += 1
            bpermit: BreakerPermit | None = None
            if breaker is not None:
                bpermit = breaker.try_acquire()
                if bpermit is None:
                    opened = CircuitOpenError(
                        f"circuit open for {target.label}: recent calls failed too often",
                        connector=rt.name,
                        model=model,
                        attempts=attempt_no - 1,
                        retry_after=breaker.retry_after(),
                    )
                    opened.fallback = True
                    raise opened
            lpermit: Permit | None = None
            try:
                if limiter is not None:
                    try:
                        lpermit = await limiter.acquire(
                            tokens=estimate, priority=options.priority, deadline=deadline
                        )
                    except LimiterRefused as exc:
                        self._event(
                            EventKind.LIMITER_REFUSED,
                            rt.name,
                            model,
                            call_id,
                            operation,
                            message=exc.reason,
                        )
                        refused = RateLimitedError(
                            f"not admitted by the rate limiter: {exc.reason}",
                            connector=rt.name,
                            model=model,
                            attempts=attempt_no - 1,
                            retry_after=exc.wait,
                        )
                        refused.fallback = True
                        raise refused from None
                    waited = lpermit.waited
                    if waited > 0:
                        self._event(
                            EventKind.THROTTLED, rt.name, model, call_id, operation, duration=waited
                        )
                if not rt.opened:
                    # Opening (starting a server process, say) is part of the attempt, so its
                    # failures are classified and retried, but it is bounded by the call's
                    # deadline, not by the per-call timeout meant for requests.
                    with deadline_scope(clock, deadline):
                        await rt.ensure_open()
                now = clock.now()
                attempt_deadline = (
                    now + timeout if deadline is None else min(now + timeout, deadline)
                )
                attempt = Attempt(
                    number=attempt_no,
                    clock=clock,
                    session=self._session(),
                    deadline=attempt_deadline,
                    ssl=rt.ssl,
                    priority=options.priority,
                    report_limits=report,
                )
                with deadline_scope(clock, attempt_deadline):
                    await attach(scheme, attempt, rt.config.base_url)
                    result = await invoke(conn, request, attempt)
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
                    if bpermit is not None:
                        bpermit.ignore()
                    raise
                cls = self._classification(conn, exc, deadline, timeout)
                if bpermit is not None:
                    if cls.category in _BREAKER_FAILURES:
                        bpermit.failure()
                    else:
                        bpermit.ignore()
                if cls.category is Category.RATE_LIMITED and limiter is not None:
                    limiter.on_rate_limited(cls.retry_after)
                self._event(
                    EventKind.ATTEMPT_FAILED,
                    rt.name,
                    model,
                    call_id,
                    operation,
                    attempt=attempt_no,
                    category=cls.category.value,
                    message=cls.message,
                    data=_attempt_data(exc),
                )
                if cls.category is Category.AUTH and not refreshed and cls.status != 403:
                    refreshed = True
                    if await self._refresh(scheme, deadline):
                        continue
                if cls.category in _MOVE_ON and has_next:
                    error = cls.to_error(connector=rt.name, model=model, attempts=attempt_no)
                    error.fallback = True
                    raise error from None
                time_left = None if deadline is None else deadline - clock.now()
                decision = rt.policy.decide(
                    attempt_no, cls, rt.rng.random(), time_left, previous_delay
                )
                if not decision.retry:
                    error = cls.to_error(
                        connector=rt.name,
                        model=model,
                        attempts=attempt_no,
                        retry_after=decision.delay if decision.reason == "deadline" else None,
                    )
                    if decision.reason == "deadline":
                        error.message += f" (a retry would wait {decision.delay:.3f} s, past the call's deadline)"
                    error.fallback = decision.reason == "deadline" or cls.category in _MOVE_ON
                    raise error from None
                if not rt.budget.try_spend():
                    error = cls.to_error(connector=rt.name, model=model, attempts=attempt_no)
                    error.message += " (not retried: the connector's retry budget is spent; the provider is failing too often)"
                    raise error from None
                self._event(
                    EventKind.RETRY_SCHEDULED,
                    rt.name,
                    model,
                    call_id,
                    operation,
                    attempt=attempt_no,
                    category=cls.category.value,
                    duration=decision.delay,
                    message=cls.message,
                )
                await clock.sleep(decision.delay)
                previous_delay = decision.delay
                continue
            # success
            if limiter is not None:
                limiter.on_success()
                used = _tokens_used(result)
                if lpermit is not None and used is not None:
                    await self._settle(lpermit, used, rt.name, model, call_id, operation)
            if keep:
                return result, attempt_no, _Held(lpermit, bpermit)
            if lpermit is not None:
                lpermit.release()
            if bpermit is not None:
                bpermit.success()
            return result, attempt_no, None

    def _classification(
        self, conn: Connector, exc: BaseException, deadline: float | None, timeout: float
    ) -> Classification:
        if _timed_out(exc):
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

    def _scheme(
        self, rt: ConnectorRuntime, principal: Principal | None, operation: str
    ) -> AuthScheme:
        """Whose credentials an attempt carries: the principal's, else the connector's."""
        if principal is None or self.principals is None:
            return rt.auth
        return self.principals.scheme_for(rt, principal, operation)

    async def _admit(
        self, options: CallOptions, request: Callable[[], Request | None], target: Target
    ) -> Admission | None:
        """Take the call from its principal's budgets before anything is sent."""
        gate, principal = self.principals, options.principal
        if gate is None or principal is None or gate.budgets is None:
            return None
        if not gate.budgets.applies(principal):
            return None
        made = request()
        estimate = 0 if made is None else target.runtime.connector.estimate_tokens(made)
        return await gate.admit(principal, estimate)

    async def _principal_done(
        self,
        options: CallOptions,
        admission: Admission | None,
        usage: Usage | None = None,
        cost: float | None = None,
        error: BaseException | None = None,
    ) -> None:
        """Settle the principal's budgets and ledger. A shared store that cannot settle
        does not fail a call whose reply is in hand: it becomes an event."""
        gate, principal = self.principals, options.principal
        if gate is None or principal is None or isinstance(error, asyncio.CancelledError):
            return
        try:
            if error is None:
                await gate.settled(principal, admission, usage, cost)
            else:
                await gate.failed(principal, admission, error)
        except PatchwireError as err:
            self.emit(
                Event(
                    EventKind.LIMITER_SETTLE_FAILED,
                    "principals",
                    time=self.clock.now(),
                    category=err.category.value,
                    message=self._redactor.redact(err.message),
                )
            )

    async def _refresh(self, scheme: AuthScheme, deadline: float | None) -> bool:
        try:
            with deadline_scope(self.clock, deadline):
                return await scheme.refresh()
        except (TimeoutError, PatchwireError, aiohttp.ClientError, OSError):
            return False

    @staticmethod
    def _fill(
        err: PatchwireError, connector: str, model: str | None, attempts: int
    ) -> PatchwireError:
        err.connector = err.connector or connector
        err.model = err.model or model
        err.attempts = err.attempts or attempts
        return err

    # --- the route: targets in order ------------------------------------------------------

    def _heal(
        self,
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
        healed = self._transform and self._transform(
            targets, route, request_for, error, ran, call_id, deadline, transforms
        )
        if not healed:
            raise error
        return healed

    async def _route(
        self,
        targets: Sequence[Target],
        operation: str,
        request_for: Callable[[Target], Request],
        invoke: Callable[[Connector, Any, Attempt], Awaitable[T]],
        options: CallOptions,
        deadline: float | None,
        call_id: int,
        keep: bool = False,
    ) -> tuple[T, Target, int, _Held | None]:
        failures: list[PatchwireError] = []
        total = 0
        for index, target in enumerate(targets):
            has_next = index + 1 < len(targets)
            try:
                result, attempts, held = await self._attempts(
                    target,
                    operation,
                    request_for(target),
                    invoke,
                    options,
                    deadline,
                    has_next,
                    call_id,
                    keep,
                )
                return result, target, total + attempts, held
            except PatchwireError as err:
                self._fill(err, target.runtime.name, target.model, 0)
                total += err.attempts
                failures.append(err)
                if has_next and err.fallback:
                    nxt = targets[index + 1]
                    self._event(
                        EventKind.FALLBACK_TAKEN,
                        target.runtime.name,
                        target.model,
                        call_id,
                        operation,
                        attempt=err.attempts,
                        category=err.category.value,
                        target=nxt.label,
                        message=err.message,
                    )
                    continue
                if len(failures) == 1:
                    raise
                final = error_class(err.category)(
                    f"every target of the route failed; last: {err.message}",
                    connector=err.connector,
                    model=err.model,
                    status=err.status,
                    code=err.code,
                    request_id=err.request_id,
                    attempts=total,
                    retry_after=err.retry_after,
                    failures=failures,
                )
                raise final from None
        raise AssertionError("a route has at least one target")

    # --- the call: metrics, deadline, cache -----------------------------------------------

    def _begin(
        self, targets: Sequence[Target], operation: str, options: CallOptions
    ) -> tuple[int, float, float | None]:
        call_id = next(self._ids)
        start = self.clock.now()
        first = targets[0]
        budget = (
            options.timeout if options.timeout is not None else first.runtime.config.retry.deadline
        )
        who: Mapping[str, object] = {}
        if options.principal is not None and self.principals is not None:
            # The id for sinks that keep a ledger; as labels, only the declared tags.
            who = MappingProxyType(
                {
                    "principal": options.principal.id,
                    "tags": self.principals.labels(options.principal),
                }
            )
            if len(self._who) >= 10000:  # streams abandoned mid-way never settle
                self._who.pop(next(iter(self._who)))
            self._who[call_id] = who
        self.emit(
            Event(
                EventKind.CALL_STARTED,
                first.runtime.name,
                first.model,
                time=start,
                call_id=call_id,
                operation=operation,
                # The connector's type, for sinks that name the provider (OpenTelemetry's
                # gen_ai.provider.name): events otherwise name the configured connector.
                data={**who, "connector_type": first.runtime.config.type},
            )
        )
        return call_id, start, (start + budget if budget is not None else None)

    def _failed(
        self,
        targets: Sequence[Target],
        operation: str,
        call_id: int,
        start: float,
        err: BaseException,
        principal: Principal | None = None,
    ) -> None:
        first = targets[0]
        now = self.clock.now()
        if isinstance(err, PatchwireError):
            # The one way out for a call's errors: nothing raw leaves with them (DESIGN §5).
            if log.isEnabledFor(logging.DEBUG):
                # What sealing cuts off, for debugging: the chain's types and messages (the
                # log factory scrubs them); no traceback, whose source reads would block.
                log.debug("call %d (%s) failed: %s", call_id, operation, chain_text(err))
            seal(err, self._redactor.scrub)
            category = err.category.value
            connector = err.connector or first.runtime.name
            model = err.model if err.connector else first.model
            retries = max(0, err.attempts - 1)
            message = err.message
        else:
            category, connector, model, retries, message = (
                "cancelled",
                first.runtime.name,
                first.model,
                0,
                "cancelled",
            )
        self.emit(
            Event(
                EventKind.CALL_FAILED,
                connector,
                model,
                time=now,
                call_id=call_id,
                operation=operation,
                category=category,
                duration=now - start,
                retries=retries,
                message=message,
                data=self._who.pop(call_id, {}),
            )
        )
        if isinstance(err, PatchwireError):
            rt = next((t.runtime for t in targets if t.runtime.name == connector), first.runtime)
            if err.category in self._escalate_categories(rt):
                self._escalate(
                    Failure(
                        connector=connector,
                        model=model,
                        operation=operation,
                        category=category,
                        message=message,
                        attempts=err.attempts,
                        call_id=call_id,
                        status=err.status,
                        code=err.code,
                        request_id=err.request_id,
                        time=now,
                        principal=principal.id if principal is not None else None,
                    )
                )

    def _succeeded(
        self,
        target: Target,
        operation: str,
        call_id: int,
        start: float,
        attempts: int,
        usage: Usage | None,
        cost: float | None,
        cached: bool,
        missing: tuple[str, ...] = (),
        saved: float | None = None,
        tool_calls: int = 0,
        reply: Mapping[str, object] | None = None,
    ) -> float:
        now = self.clock.now()
        latency = now - start
        # Which pricing rules were unknown, and what caching saved: the provider's prompt
        # cache (the cost's own figure) or, for a reply patchwire's cache served, ``saved``.
        savings = getattr(cost, "cache_savings", 0.0) if saved is None else saved
        data: dict[str, object] = {"cost_missing": missing} if missing else {}
        if savings:
            data["cache_savings"] = savings
        if tool_calls:
            data["tool_calls"] = tool_calls
        # What answered (see _reply_data), and the connector's type, for tracing sinks.
        data["connector_type"] = target.runtime.config.type
        if reply:
            data.update(reply)
        data.update(self._who.pop(call_id, {}))
        self.emit(
            Event(
                EventKind.CALL_SUCCEEDED,
                target.runtime.name,
                target.model,
                time=now,
                call_id=call_id,
                operation=operation,
                duration=latency,
                retries=max(0, attempts - 1),
                input_tokens=usage.input_tokens if usage else None,
                output_tokens=usage.output_tokens if usage else None,
                cost=cost,
                cached=cached,
                data=data,
            )
        )
        return latency

    def _finish_output(
        self, output: OutputSpec, result: Completion, target: Target, attempts: int, call_id: int
    ) -> Completion:
        try:
            return finish_output(output, result, target.runtime.name, attempts)
        except OutputValidationError:
            # The attempt's reply did not validate: an attempt failure of its own, marked so
            # the metrics count it per connector:model even when a transform heals the call.
            self._event(
                EventKind.ATTEMPT_FAILED,
                target.runtime.name,
                target.model,
                call_id,
                "complete",
                attempt=attempts,
                category=Category.INTEGRATION.value,
                message="the reply does not match the requested output schema",
                data=_INVALID_OUTPUT,
            )
            raise

    def _bill(self, target: Target, usage: Usage) -> Bill:
        if target.model is None:
            return _NO_MODEL_BILL
        return self.prices.bill(target.runtime.config.type, target.model, usage)

    async def _cached(
        self,
        targets: Sequence[Target],
        operation: str,
        request: Request | Callable[[], Request],
        options: CallOptions,
        call_id: int,
        compute: Callable[[], Awaitable[T]],
        accept: Callable[[object], bool],
    ) -> tuple[T, bool]:
        """``request`` may be a function, so an uncacheable call never builds it twice.
        ``accept`` says which stored values are entries of this operation's shape."""
        first = targets[0]
        rt = first.runtime
        if rt.cache is None or options.cache is False:
            return await compute(), False
        if callable(request):
            request = request()
        if not (options.cache is True or rt.connector.is_deterministic(request)):
            return await compute(), False
        ttl = options.cache_ttl
        if ttl is None:
            ttl = rt.connector.ttl_for(request)
        # A call's own ttl is part of the key, so a short-ttl caller is never served an
        # entry stored by a long-ttl one (the ttl bounds the age of what it gets).
        scope = None if options.cache_ttl is None else f"ttl={options.cache_ttl!r}"
        if options.principal is not None:
            # A reply fetched with one user's credentials is never served to another.
            scope = f"{scope or ''}|principal={options.principal.id}"
        key = cache_key("|".join(t.label for t in targets), scope, operation, request)
        value, hit = await rt.cache.get_or_call(key, compute, ttl=ttl, accept=accept)
        kind = EventKind.CACHE_HIT if hit else EventKind.CACHE_MISS
        self._event(kind, rt.name, first.model, call_id, operation)
        return value, hit

    # --- operations -------------------------------------------------------------------------

    async def complete(
        self,
        targets: Sequence[Target],
        request_for: Callable[[Target], CompletionRequest],
        options: CallOptions,
        output: OutputSpec | None = None,
        transforms: Mapping[str, Any] | None = None,
    ) -> Completion:
        call_id, start, deadline = self._begin(targets, "complete", options)
        watching = content.observers()  # opted-in content recording only (patchwire.content)
        if watching:
            self._tell(watching, "prompt", call_id, request_for(targets[0]).messages)
        admission = None
        try:
            admission = await self._admit(options, lambda: request_for(targets[0]), targets[0])

            async def compute() -> tuple[Completion, int, int]:
                route, make, ran = targets, request_for, list[str]()
                while True:
                    try:
                        result, target, attempts, _ = await self._route(
                            route, "complete", make, _complete, options, deadline, call_id
                        )
                        if output is not None:
                            # After the route, not per attempt: the error keeps its type and raw text.
                            result = self._finish_output(output, result, target, attempts, call_id)
                        break
                    except PatchwireError as err:
                        route, make = self._heal(
                            err, targets, route, make, ran, call_id, deadline, transforms
                        )
                if ran:
                    result = attrs.evolve(result, transforms=tuple(ran))
                return result, targets.index(target), attempts

            (result, index, attempts), hit = await self._cached(
                targets,
                "complete",
                lambda: request_for(targets[0]),
                options,
                call_id,
                compute,
                entry_shape(Completion, lambda i: type(i) is int and 0 <= i < len(targets), int),
            )
        except (PatchwireError, asyncio.CancelledError) as err:
            self._failed(targets, "complete", call_id, start, err, options.principal)
            await self._principal_done(options, admission, error=err)
            raise
        target = targets[index]
        if watching:
            self._tell(watching, "reply", call_id, result)
        # A reply served from patchwire's cache costs nothing; what it would have cost is saved.
        billed = self._bill(target, result.usage)
        cost = None if hit else billed.cost()
        latency = self._succeeded(
            target,
            "complete",
            call_id,
            start,
            0 if hit else attempts,
            None if hit else result.usage,
            cost,
            hit,
            () if hit else billed.missing,
            saved=billed.total if hit else None,
            # Counted whether or not the cache served them: the calls reached the application.
            tool_calls=len(result.tool_calls) if result.parts else 0,
            reply=_reply_data(result.model, result.finish_reason, result.raw),
        )
        await self._principal_done(
            options, admission, Usage() if hit else result.usage, 0.0 if hit else cost
        )
        # Built directly: attrs.evolve introspects the class on every call, and this is the hot path.
        return Completion(
            text=result.text,
            usage=result.usage,
            model=result.model or (target.model or ""),
            connector=target.runtime.name,
            finish_reason=result.finish_reason,
            request_id=result.request_id,
            cached=hit,
            attempts=0 if hit else attempts,
            latency=latency,
            cost=cost,
            raw=result.raw,
            parts=result.parts,
            parsed=result.parsed,
            transforms=() if hit else result.transforms,  # a cached reply ran none
        )

    async def stream(
        self,
        targets: Sequence[Target],
        request_for: Callable[[Target], CompletionRequest],
        options: CallOptions,
        transforms: Mapping[str, Any] | None = None,
    ) -> AsyncIterator[StreamChunk]:
        call_id, start, deadline = self._begin(targets, "stream", options)
        watching = content.observers()  # opted-in content recording only (patchwire.content)
        if watching:
            self._tell(watching, "prompt", call_id, request_for(targets[0]).messages)
        clock = self.clock
        admission = None
        try:
            admission = await self._admit(options, lambda: request_for(targets[0]), targets[0])
            # Transforms heal only before the first chunk: once text reached the caller,
            # a changed request would answer a different question.
            route, make, ran = targets, request_for, list[str]()
            while True:
                try:
                    (agen, first), target, attempts, held = await self._route(
                        route, "stream", make, _open_stream, options, deadline, call_id, keep=True
                    )
                    break
                except PatchwireError as err:
                    route, make = self._heal(
                        err, targets, route, make, ran, call_id, deadline, transforms
                    )
            if ran and first is not None:
                first = attrs.evolve(first, transforms=tuple(ran))
        except (PatchwireError, asyncio.CancelledError) as err:
            self._failed(targets, "stream", call_id, start, err, options.principal)
            await self._principal_done(options, admission, error=err)
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
            cls = self._classification(
                target.runtime.connector, exc, deadline, target.runtime.config.timeout
            )
            error = cls.to_error(
                connector=target.runtime.name, model=target.model, attempts=attempts
            )
            error.message = f"stream broke after it started: {error.message}"
            error.details = "partial output was delivered; not retried"
            outcome = error
            self._event(
                EventKind.ATTEMPT_FAILED,
                target.runtime.name,
                target.model,
                call_id,
                "stream",
                attempt=attempts,
                category=cls.category.value,
                message=error.message,
                data=_attempt_data(exc),
            )
            if held.breaker is not None:
                if cls.category in _BREAKER_FAILURES:
                    held.breaker.failure()
                else:
                    held.breaker.ignore()
                held.breaker = None
            self._failed(targets, "stream", call_id, start, error, options.principal)
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
            await self._principal_done(options, admission, usage, error=outcome)
            raise outcome
        billed = self._bill(target, usage) if usage is not None else None
        if watching:
            parts = turn.parts if turn is not None else ()
            whole = Completion(text="".join(said), parts=parts, finish_reason=finish)
            self._tell(watching, "reply", call_id, whole)
        self._succeeded(
            target,
            "stream",
            call_id,
            start,
            attempts,
            usage,
            None if billed is None else billed.cost(),
            False,
            () if billed is None else billed.missing,
            tool_calls=tool_calls,
            reply=_reply_data(None, finish, None),
        )
        await self._principal_done(
            options, admission, usage, None if billed is None else billed.cost()
        )

    def batcher(
        self,
        key: str,
        targets: Sequence[Target],
        params: dict[str, Any],
        principal: Principal | None = None,
    ) -> EmbeddingBatcher[tuple[tuple[float, ...], int, float | None]]:
        first = targets[0].runtime
        existing = first.batchers.get(key)
        if existing is not None:
            return existing  # type: ignore[return-value]
        max_batch = first.config.batch.max_size or first.connector.max_batch_size

        async def send(
            texts: Sequence[str], info: BatchInfo
        ) -> Sequence[tuple[tuple[float, ...], int, float | None]]:
            call_id = next(self._ids)
            # A batch is one principal's: its credentials never carry another's texts.
            options = CallOptions(priority=info.priority, principal=principal)

            def request_for(target: Target) -> EmbeddingRequest:
                return EmbeddingRequest(target.model or "", tuple(texts), params)

            batch, target, _, _ = await self._route(
                targets, "embed", request_for, _embed, options, info.deadline, call_id
            )
            self._event(
                EventKind.BATCH_SENT,
                target.runtime.name,
                target.model,
                call_id,
                "embed",
                data={"size": len(texts)},
            )
            # Each caller is charged its share of the batch's tokens, by input length.
            total_chars = sum(len(t) for t in texts) or 1
            if len(batch.vectors) != len(texts):
                raise IntegrationError(
                    f"embedding batch returned {len(batch.vectors)} vectors for {len(texts)} inputs",
                    connector=target.runtime.name,
                    model=target.model,
                )
            out = []
            for text, vector in zip(texts, batch.vectors, strict=True):
                share = round(batch.usage.input_tokens * len(text) / total_chars)
                # A plain float (Bill.total), not a Cost: the entry may go in a shared cache.
                cost = self._bill(target, Usage(input_tokens=share)).total
                out.append((vector, share, cost))
            return out

        batcher = EmbeddingBatcher(
            self.clock, send, max_batch=max_batch, linger=first.config.batch.linger
        )
        first.batchers[key] = batcher  # type: ignore[assignment]
        return batcher

    async def embed(
        self,
        targets: Sequence[Target],
        text: str,
        params: dict[str, Any],
        options: CallOptions,
    ) -> Embedding:
        call_id, start, deadline = self._begin(targets, "embed", options)
        route_key = "|".join(t.label for t in targets) + "|" + repr(sorted(params.items()))
        if options.principal is not None:
            route_key += f"|principal={options.principal.id}"
        batcher = self.batcher(route_key, targets, params, options.principal)
        target = targets[0]
        request = EmbeddingRequest(target.model or "", (text,), params)
        admission = None
        try:
            admission = await self._admit(options, lambda: request, target)

            async def compute() -> tuple[tuple[float, ...], int, float | None]:
                return await batcher.submit(text, priority=options.priority, deadline=deadline)

            (vector, tokens, cost), hit = await self._cached(
                targets, "embed", request, options, call_id, compute, _EMBED_ENTRY
            )
        except (PatchwireError, asyncio.CancelledError) as err:
            self._failed(targets, "embed", call_id, start, err, options.principal)
            await self._principal_done(options, admission, error=err)
            raise
        self._succeeded(
            target,
            "embed",
            call_id,
            start,
            1,
            None if hit else Usage(input_tokens=tokens),
            None if hit else cost,
            hit,
        )
        await self._principal_done(
            options, admission, Usage() if hit else Usage(input_tokens=tokens), 0.0 if hit else cost
        )
        return Embedding(
            vector=vector, model=target.model or "", connector=target.runtime.name, cached=hit
        )

    async def call_tool(
        self,
        target: Target,
        request: ToolRequest,
        options: CallOptions,
        tool_name: str,
    ) -> ToolResult:
        targets = (target,)
        operation = f"tool:{request.operation}"
        call_id, start, deadline = self._begin(targets, operation, options)
        admission = None
        try:
            admission = await self._admit(options, lambda: None, target)

            async def compute() -> tuple[ToolResult, int]:
                result, _, attempts, _ = await self._route(
                    targets, operation, lambda _: request, _call_tool, options, deadline, call_id
                )
                return result, attempts

            (result, attempts), hit = await self._cached(
                targets, operation, request, options, call_id, compute, _TOOL_ENTRY
            )
        except (PatchwireError, asyncio.CancelledError) as err:
            self._failed(targets, operation, call_id, start, err, options.principal)
            await self._principal_done(options, admission, error=err)
            raise
        latency = self._succeeded(
            target, operation, call_id, start, 0 if hit else attempts, None, 0.0, hit
        )
        await self._principal_done(options, admission, None, 0.0)
        return attrs.evolve(
            result,
            tool=tool_name,
            operation=request.operation,
            connector=target.runtime.name,
            cached=hit,
            attempts=0 if hit else attempts,
            latency=latency,
        )

    def _tell(
        self, watching: Sequence[content.ContentObserver], what: str, call_id: int, value: Any
    ) -> None:
        # The redactor goes along: a credential patchwire loaded must not reach a span even
        # when the application pasted it into a prompt.
        for observer in watching:
            try:
                getattr(observer, what)(call_id, value, self._redactor.redact)
            except Exception:  # an observer must never fail the call
                log.exception("content observer %r failed", type(observer).__name__)

    async def list_tools(self, target: Target, options: CallOptions) -> Any:
        call_id, start, deadline = self._begin((target,), "list_tools", options)
        try:
            result, _, attempts, _ = await self._route(
                (target,),
                "list_tools",
                lambda _: ToolRequest("tools/list"),
                _list_tools,
                options,
                deadline,
                call_id,
            )
        except (PatchwireError, asyncio.CancelledError) as err:
            self._failed((target,), "list_tools", call_id, start, err)
            raise
        self._succeeded(target, "list_tools", call_id, start, attempts, None, 0.0, False)
        return result


# Marks an ATTEMPT_FAILED event whose attempt ran out of time, for the metrics' timeouts,
# and one whose reply failed validation (structured output, tool-call arguments), for
# the metrics' invalid_outputs.
_TIMED_OUT = MappingProxyType({"timeout": True})
_INVALID_OUTPUT = MappingProxyType({"invalid": "output"})
_INVALID_TOOL_ARGUMENTS = MappingProxyType({"invalid": "tool_arguments"})


def _reply_data(
    model: str | None, finish_reason: str | None, raw: Mapping[str, Any] | None
) -> dict[str, object]:
    """What a CALL_SUCCEEDED event says about the reply, for tracing sinks (the GenAI
    conventions' response model, finish reasons and response id): names and ids only,
    never content. The id is the provider's completion id from the body (``id``; Gemini's
    ``responseId``), kept only when it is a short string."""
    out: dict[str, object] = {}
    if model:
        out["response_model"] = model
    if finish_reason:
        out["finish_reasons"] = (finish_reason,)
    if isinstance(raw, Mapping):
        rid = raw.get("id") or raw.get("responseId")
        if isinstance(rid, str) and 0 < len(rid) <= 128:
            out["response_id"] = rid
    return out


def _timed_out(exc: BaseException) -> bool:
    return isinstance(exc, TimeoutError) and not isinstance(exc, PatchwireError)


def _attempt_data(exc: BaseException) -> Mapping[str, object]:
    if _timed_out(exc):
        return _TIMED_OUT
    if isinstance(exc, ToolArgumentsError):
        return _INVALID_TOOL_ARGUMENTS
    return {}


def _tokens_used(result: object) -> int | None:
    usage = getattr(result, "usage", None)
    if isinstance(usage, Usage):
        return usage.total_tokens
    return None


async def _complete(conn: Connector, request: CompletionRequest, attempt: Attempt) -> Completion:
    result = await conn.complete(request, attempt)
    check_usage(result.usage)
    return result


async def _embed(conn: Connector, request: EmbeddingRequest, attempt: Attempt) -> EmbeddingBatch:
    result = await conn.embed(request, attempt)
    check_usage(result.usage)
    return result


async def _call_tool(conn: Connector, request: ToolRequest, attempt: Attempt) -> ToolResult:
    return await conn.call_tool(request, attempt)


async def _list_tools(conn: Connector, request: ToolRequest, attempt: Attempt) -> Any:
    return await conn.list_tools(attempt)


async def _open_stream(
    conn: Connector, request: CompletionRequest, attempt: Attempt
) -> tuple[AsyncIterator[StreamChunk], StreamChunk | None]:
    """Open the stream and wait for its first chunk, so that failures before it can be retried."""
    agen = conn.stream(request, attempt)
    try:
        first = await agen.__anext__()
    except StopAsyncIteration:
        return agen, None
    except BaseException:
        aclose = getattr(agen, "aclose", None)
        if aclose is not None:
            await aclose()
        raise
    return agen, first
