"""The stages of one attempt, in DESIGN §5's order, each a small unit that
:mod:`patchwire.pipeline.attempts` runs in sequence:

    validate ─ retry budget ─ circuit breaker ─ rate limiter ─ open ─ auth ─ attempt timeout
      ─ connector, and after a failure: feedback ─ auth refresh ─ move on or retry (budget)

Most are plain functions: a stage that need not wait is not a coroutine, so an attempt
costs no more frames than the awaits it really makes. A stage that ends the target raises
the finished error, marked ``fallback`` when the route should move on to its next target.
"""

from __future__ import annotations

import aiohttp

from patchwire.auth.base import AuthScheme
from patchwire.breaker import BreakerPermit, CircuitBreaker
from patchwire.classification import Classification
from patchwire.clock import Clock, deadline_scope
from patchwire.errors import Category, CircuitOpenError, PatchwireError, RateLimitedError
from patchwire.events import EventKind
from patchwire.features import check_request
from patchwire.limiter import Limiter, LimiterRefused, Permit
from patchwire.pipeline.record import Recorder
from patchwire.pipeline.target import Request, Target
from patchwire.runtime import ConnectorRuntime
from patchwire.types import CallOptions, CompletionRequest, Usage

__all__ = [
    "BREAKER_FAILURES",
    "MOVE_ON",
    "attempt_timeout",
    "breaker_permit",
    "feedback",
    "fill",
    "limiter_permit",
    "open_connector",
    "refresh",
    "retry_delay",
    "used_tokens",
    "validated",
    "wants_refresh",
]

# Outcomes the breaker counts; the rest (bad input, auth) say nothing about the provider's health.
BREAKER_FAILURES = frozenset({Category.TRANSIENT, Category.DEGRADED, Category.RATE_LIMITED})
# After these a route moves on at once instead of retrying the same target.
MOVE_ON = frozenset({Category.DEGRADED, Category.CIRCUIT_OPEN, Category.QUOTA_EXHAUSTED})

_DEADLINE_NOTE = " (a retry would wait {:.3f} s, past the call's deadline)"
_BUDGET_NOTE = (
    " (not retried: the connector's retry budget is spent; the provider is failing too often)"
)


def fill(err: PatchwireError, connector: str, model: str | None, attempts: int) -> PatchwireError:
    """Name the target on an error that left a stage without it."""
    err.connector = err.connector or connector
    err.model = err.model or model
    err.attempts = err.attempts or attempts
    return err


# --- before the first attempt ---------------------------------------------------------------


def validated(
    record: Recorder, target: Target, operation: str, request: Request, call_id: int
) -> Request:
    """The request as the connector will get it: features it lacks refused, sampling knobs
    it cannot send dropped (or refused), then the connector's own ``validate``."""
    rt = target.runtime
    try:
        if isinstance(request, CompletionRequest):
            request, dropped = check_request(rt.connector, request, rt.config.unsupported_params)
            for param in dropped:
                record.event(
                    EventKind.PARAM_DROPPED,
                    rt.name,
                    target.model,
                    call_id,
                    operation,
                    message=f"{param} dropped: connector type '{rt.config.type}' cannot send it",
                    data={"param": param},
                )
        rt.connector.validate(request)
    except PatchwireError as invalid:
        raise fill(invalid, rt.name, target.model, 0) from None
    return request


def attempt_timeout(rt: ConnectorRuntime, operation: str, request: Request) -> float:
    """The per-attempt timeout: the request's own (the connector's ``timeout_for``), else
    the operation's configured one."""
    timeout = rt.config.embed_timeout if operation == "embed" else rt.config.timeout
    if operation != "list_tools":
        timeout = rt.connector.timeout_for(request) or timeout
    return timeout


# --- each attempt, outside in ---------------------------------------------------------------


def breaker_permit(
    breaker: CircuitBreaker | None, target: Target, attempts: int
) -> BreakerPermit | None:
    """A permit to try the target, or ``CircuitOpenError`` (move on) while its circuit is open."""
    if breaker is None:
        return None
    permit = breaker.try_acquire()
    if permit is None:
        opened = CircuitOpenError(
            f"circuit open for {target.label}: recent calls failed too often",
            connector=target.runtime.name,
            model=target.model,
            attempts=attempts,
            retry_after=breaker.retry_after(),
        )
        opened.fallback = True
        raise opened
    return permit


async def limiter_permit(
    limiter: Limiter,
    record: Recorder,
    target: Target,
    operation: str,
    call_id: int,
    estimate: int,
    options: CallOptions,
    deadline: float | None,
    attempts: int,
) -> Permit:
    """Wait for the limiter's admission (by priority, within the deadline), or fail with
    ``RateLimitedError`` (move on) when it will not admit the call in time."""
    try:
        permit = await limiter.acquire(
            tokens=estimate, priority=options.priority, deadline=deadline
        )
    except LimiterRefused as exc:
        name, model = target.runtime.name, target.model
        record.event(EventKind.LIMITER_REFUSED, name, model, call_id, operation, message=exc.reason)
        refused = RateLimitedError(
            f"not admitted by the rate limiter: {exc.reason}",
            connector=name,
            model=model,
            attempts=attempts,
            retry_after=exc.wait,
        )
        refused.fallback = True
        raise refused from None
    if permit.waited > 0:
        record.event(
            EventKind.THROTTLED,
            target.runtime.name,
            target.model,
            call_id,
            operation,
            duration=permit.waited,
        )
    return permit


async def open_connector(rt: ConnectorRuntime, clock: Clock, deadline: float | None) -> None:
    """Open the connector (start its server process, say). Part of the attempt, so its
    failures are classified and retried, but bounded by the call's deadline, not by the
    per-attempt timeout meant for requests."""
    with deadline_scope(clock, deadline):
        await rt.ensure_open()


def used_tokens(result: object) -> int | None:
    """The tokens a reply says it used, to charge a token window's permit; None when it
    reports no usage."""
    usage = getattr(result, "usage", None)
    return usage.total_tokens if isinstance(usage, Usage) else None


# --- after a failed attempt -----------------------------------------------------------------


def feedback(cls: Classification, breaker: BreakerPermit | None, limiter: Limiter | None) -> None:
    """What a failure tells the breaker (provider health only) and the limiter (a 429)."""
    if breaker is not None:
        if cls.category in BREAKER_FAILURES:
            breaker.failure()
        else:
            breaker.ignore()
    if cls.category is Category.RATE_LIMITED and limiter is not None:
        limiter.on_rate_limited(cls.retry_after)


def wants_refresh(cls: Classification, refreshed: bool) -> bool:
    """An auth failure gets one credential refresh per target; a 403 is not helped by one."""
    return cls.category is Category.AUTH and not refreshed and cls.status != 403


async def refresh(clock: Clock, scheme: AuthScheme, deadline: float | None) -> bool:
    """Refresh the credential within the deadline; False when it could not be refreshed."""
    try:
        with deadline_scope(clock, deadline):
            return await scheme.refresh()
    except (TimeoutError, PatchwireError, aiohttp.ClientError, OSError):
        return False


def retry_delay(
    rt: ConnectorRuntime,
    target: Target,
    cls: Classification,
    attempt: int,
    time_left: float | None,
    previous_delay: float | None,
    has_next: bool,
) -> float:
    """How long to wait before retrying the target, or the failure's finished error:
    marked to move on when the route has a next target for it (a degraded provider, an
    open circuit, an exhausted quota, or a wait the deadline cannot hold), and unmarked
    when the policy or the connector's retry budget refuses the retry."""
    if cls.category in MOVE_ON and has_next:
        raise _error(cls, target, attempt, fallback=True) from None
    decision = rt.policy.decide(attempt, cls, rt.rng.random(), time_left, previous_delay)
    if not decision.retry:
        past = decision.reason == "deadline"
        raise _error(
            cls,
            target,
            attempt,
            retry_after=decision.delay if past else None,
            note=_DEADLINE_NOTE.format(decision.delay) if past else "",
            fallback=past or cls.category in MOVE_ON,
        ) from None
    if not rt.budget.try_spend():
        raise _error(cls, target, attempt, note=_BUDGET_NOTE) from None
    return decision.delay


def _error(
    cls: Classification,
    target: Target,
    attempts: int,
    *,
    retry_after: float | None = None,
    note: str = "",
    fallback: bool = False,
) -> PatchwireError:
    """The one place a failed target's error is completed."""
    error = cls.to_error(
        connector=target.runtime.name,
        model=target.model,
        attempts=attempts,
        retry_after=retry_after,
    )
    if note:
        error.message += note
    error.fallback = fallback
    return error
