"""A call's bookkeeping: the events it emits, from started to succeeded or failed, the
escalation of a failure, the settling of its limiter and principal's budgets, its bill and
the opted-in content observers. Nothing here decides what a call does next."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from patchwire import content
from patchwire.clock import Clock
from patchwire.errors import Category, PatchwireError, chain_text, seal
from patchwire.escalation import Failure
from patchwire.events import Event, EventBus, EventKind, Succeeded, call_event
from patchwire.limiter import Permit
from patchwire.prices import Bill, PriceTable
from patchwire.redact import Redactor
from patchwire.runtime import ConnectorRuntime
from patchwire.tools import ToolArgumentsError
from patchwire.types import CallOptions, CompletionRequest, Usage

if TYPE_CHECKING:
    from patchwire.pipeline.target import Target
    from patchwire.principals.budgets import Admission
    from patchwire.principals.gate import PrincipalGate
    from patchwire.principals.principal import Principal

__all__ = ["Recorder", "attempt_data", "reply_data", "timed_out"]

# The logger keeps the pipeline's name: applications filter on it.
log = logging.getLogger("patchwire.pipeline")

# Marks an ATTEMPT_FAILED event whose attempt ran out of time, for the metrics' timeouts,
# and one whose reply failed validation (structured output, tool-call arguments), for
# the metrics' invalid_outputs.
_TIMED_OUT = MappingProxyType({"timeout": True})
INVALID_OUTPUT = MappingProxyType({"invalid": "output"})
_INVALID_TOOL_ARGUMENTS = MappingProxyType({"invalid": "tool_arguments"})
_NO_DATA: Mapping[str, object] = MappingProxyType({})
_STARTED = EventKind.CALL_STARTED
_SUCCEEDED = EventKind.CALL_SUCCEEDED
# A started call's CallFields from duration on: none of them is known yet.
_NOT_ENDED = (None, 0, None, None, None, False)
# A target without a model (a tool) has no price: its calls' cost is unknown.
_NO_MODEL_BILL = Bill(charges=(), missing=("price",))


class Recorder:
    """Emits one pipeline's call events and settles what a finished call owes."""

    def __init__(
        self,
        *,
        clock: Clock,
        emit: Callable[[Event], None],
        escalate: Callable[[Failure], None],
        escalate_categories: Callable[[ConnectorRuntime], frozenset[Category]],
        prices: PriceTable,
        redactor: Redactor,
    ) -> None:
        self.clock = clock
        self.emit = emit
        # The bus behind ``emit``, when it is one: while only its built-in sinks listen
        # (EventBus.fields_only), a call's start and success reach them as fields and no
        # Event is built that nobody reads. Its plain attribute fields_steady is read first:
        # it says the same without a call while no quiet sink is to be asked; then
        # fields_now, the property's answer without the property.
        owner = getattr(emit, "__self__", None)
        self._bus = owner if type(owner) is EventBus and emit == owner.emit else None
        self._escalate = escalate
        self._escalate_categories = escalate_categories
        self.prices = prices
        self.redactor = redactor
        self.ids = itertools.count(1)
        #: per-principal credentials, budgets and ledger (set through ``Pipeline.principals``)
        self.principals: PrincipalGate | None = None
        # call id -> who the call is for, put on its started/succeeded/failed events
        self._who: dict[int, Mapping[str, object]] = {}

    def event(
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

    def attempt_failed(
        self,
        target: Target,
        call_id: int,
        operation: str,
        attempt: int,
        category: Category,
        message: str | None,
        data: Mapping[str, object],
    ) -> None:
        """Emit ATTEMPT_FAILED: one attempt's failure, whatever the call goes on to do."""
        self.event(
            EventKind.ATTEMPT_FAILED,
            target.runtime.name,
            target.model,
            call_id,
            operation,
            attempt=attempt,
            category=category.value,
            message=message,
            data=data,
        )

    # --- start and end of a call ----------------------------------------------------------

    def begin(
        self,
        targets: Sequence[Target],
        operation: str,
        options: CallOptions,
        request_for: Callable[[Target], CompletionRequest] | None = None,
    ) -> tuple[int, float, float | None, tuple[content.ContentObserver, ...]]:
        """A new call's id, start time and deadline; emits CALL_STARTED. A completion or
        stream (``request_for`` given) tells the content observers that opted in
        (patchwire.content) its prompt, and gets them back for the reply."""
        call_id = next(self.ids)
        start = self.clock.now()
        first = targets[0]
        budget = (
            options.timeout if options.timeout is not None else first.runtime.config.retry.deadline
        )
        who: Mapping[str, object] = _NO_DATA
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
        bus = self._bus
        if bus is not None and (bus.fields_steady or bus.fields_now()):
            bus.call_started(first.runtime.name, first.model)
        else:
            self.emit(
                call_event(
                    _STARTED,
                    (first.runtime.name, first.model, start, call_id, operation, *_NOT_ENDED),
                    # The connector's type, for sinks that name the provider (OpenTelemetry's
                    # gen_ai.provider.name): events otherwise name the configured connector.
                    {**who, "connector_type": first.runtime.config.type},
                )
            )
        watching: tuple[content.ContentObserver, ...] = ()
        # The registered list itself, read and never changed here: with no observer (most
        # calls) the copy observers() makes, and its call, are skipped.
        if request_for is not None and content._OBSERVERS:
            watching = content.observers()
            self.tell(watching, "prompt", call_id, request_for(targets[0]).messages)
        return call_id, start, (start + budget if budget is not None else None), watching

    def failed(
        self,
        targets: Sequence[Target],
        operation: str,
        call_id: int,
        start: float,
        err: BaseException,
        principal: Principal | None = None,
    ) -> None:
        """Seal a failed call's error, emit CALL_FAILED and escalate what is configured to."""
        first = targets[0]
        now = self.clock.now()
        if isinstance(err, PatchwireError):
            # The one way out for a call's errors: nothing raw leaves with them (DESIGN §5).
            if log.isEnabledFor(logging.DEBUG):
                # What sealing cuts off, for debugging: the chain's types and messages (the
                # log factory scrubs them); no traceback, whose source reads would block.
                log.debug("call %d (%s) failed: %s", call_id, operation, chain_text(err))
            seal(err, self.redactor.scrub)
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

    def succeeded(
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
        reply: ReplyFacts | None = None,
    ) -> float:
        """Emit CALL_SUCCEEDED; returns the call's latency. ``reply`` is the reply's model,
        finish reason and raw body, turned into event data (reply_data) only when an Event
        is built: on the field path nothing reads them."""
        now = self.clock.now()
        latency = now - start
        # Which pricing rules were unknown, and what caching saved: the provider's prompt
        # cache (the cost's own figure) or, for a reply patchwire's cache served, ``saved``.
        savings = getattr(cost, "cache_savings", 0.0) if saved is None else saved
        who = self._who.pop(call_id, _NO_DATA) if self._who else _NO_DATA
        call: Succeeded = (
            target.runtime.name,
            target.model,
            now,
            call_id,
            operation,
            latency,
            attempts - 1 if attempts > 1 else 0,
            usage.input_tokens if usage else None,
            usage.output_tokens if usage else None,
            cost,
            cached,
            savings,
            tool_calls,
            missing,
            who,
        )
        bus = self._bus
        if bus is not None and (bus.fields_steady or bus.fields_now()):
            bus.call_succeeded(call)
            return latency
        data: dict[str, object] = {"cost_missing": missing} if missing else {}
        if savings:
            data["cache_savings"] = savings
        if tool_calls:
            data["tool_calls"] = tool_calls
        # What answered (see reply_data), and the connector's type, for tracing sinks.
        data["connector_type"] = target.runtime.config.type
        if reply is not None:
            data.update(reply_data(*reply))
        data.update(who)
        self.emit(call_event(_SUCCEEDED, call[:11], data))
        return latency

    def bill(self, target: Target, usage: Usage) -> Bill:
        if target.model is None:
            return _NO_MODEL_BILL
        return self.prices.bill(target.runtime.config.type, target.model, usage)

    # --- settling what a call owes --------------------------------------------------------

    async def settle(
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
            self.event(
                EventKind.LIMITER_SETTLE_FAILED,
                connector,
                model,
                call_id,
                operation,
                category=err.category.value,
                message=self.redactor.redact(err.message),
            )

    def budgeted(self, options: CallOptions) -> bool:
        """Whether the call's principal has budgets to take it from (checked before any
        coroutine is made, so a call without a principal pays nothing for them)."""
        gate, principal = self.principals, options.principal
        return (
            gate is not None
            and principal is not None
            and gate.budgets is not None
            and gate.budgets.applies(principal)
        )

    async def admit(self, options: CallOptions, target: Target, request: Any) -> Admission | None:
        """Take the call from its principal's budgets before anything is sent (only when
        :meth:`budgeted`); ``request`` is None for a call with no token estimate."""
        assert self.principals is not None and options.principal is not None
        estimate = 0 if request is None else target.runtime.connector.estimate_tokens(request)
        return await self.principals.admit(options.principal, estimate)

    async def principal_done(
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
                    message=self.redactor.redact(err.message),
                )
            )

    def tell(
        self, watching: Sequence[content.ContentObserver], what: str, call_id: int, value: Any
    ) -> None:
        """Hand an opted-in content observer a prompt or reply. The redactor goes along: a
        credential patchwire loaded must not reach a span even when the application
        pasted it into a prompt."""
        for observer in watching:
            try:
                getattr(observer, what)(call_id, value, self.redactor.redact)
            except Exception:  # an observer must never fail the call
                log.exception("content observer %r failed", type(observer).__name__)


# A reply's model, finish reason and raw body, as Recorder.succeeded takes them.
ReplyFacts = tuple[str | None, str | None, Mapping[str, Any] | None]


def reply_data(
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
    # A dict (every JSON body) or None (no body) without the Mapping ABC's check.
    if raw is not None and (type(raw) is dict or isinstance(raw, Mapping)):
        rid = raw.get("id") or raw.get("responseId")
        if isinstance(rid, str) and 0 < len(rid) <= 128:
            out["response_id"] = rid
    return out


def timed_out(exc: BaseException) -> bool:
    return isinstance(exc, TimeoutError) and not isinstance(exc, PatchwireError)


def attempt_data(exc: BaseException) -> Mapping[str, object]:
    if timed_out(exc):
        return _TIMED_OUT
    if isinstance(exc, ToolArgumentsError):
        return _INVALID_TOOL_ARGUMENTS
    return {}
