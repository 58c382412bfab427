"""The pipeline's entry points: a completion, a stream, an embedding, a tool call and a
tool listing, each the outer layers of DESIGN §5 (metrics ─ deadline ─ cache ─ batching)
around :func:`patchwire.pipeline.route.route`.

An entry point builds nothing per call that its path does not use: no closure for the
cache unless the cache is consulted, no coroutine for a principal's budgets unless the
call has one, and no transform state unless a target failed.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import aiohttp
import attrs

from patchwire.batching import BatchInfo, EmbeddingBatcher
from patchwire.classification import Classification
from patchwire.clock import Clock
from patchwire.connector import Connector
from patchwire.errors import Category, IntegrationError, PatchwireError
from patchwire.escalation import Failure
from patchwire.events import Event, EventKind
from patchwire.features import finish_output
from patchwire.output import OutputSpec, OutputValidationError
from patchwire.pipeline.attempts import Attempts
from patchwire.pipeline.cached import (
    EMBED_ENTRY,
    TOOL_ENTRY,
    completion_entry,
    from_cache,
    key_for,
)
from patchwire.pipeline.operations import CALL_TOOL, COMPLETE, EMBED, LIST_TOOLS, list_tools_request
from patchwire.pipeline.record import INVALID_OUTPUT, Recorder
from patchwire.pipeline.route import heal, route
from patchwire.pipeline.streaming import stream
from patchwire.pipeline.target import Target
from patchwire.prices import PriceTable
from patchwire.redact import Redactor
from patchwire.runtime import ConnectorRuntime
from patchwire.types import (
    CallOptions,
    Completion,
    CompletionRequest,
    Embedding,
    EmbeddingRequest,
    StreamChunk,
    ToolRequest,
    ToolResult,
    Usage,
    completion,
)

if TYPE_CHECKING:
    from patchwire.auth.base import AuthScheme
    from patchwire.principals.gate import PrincipalGate
    from patchwire.principals.principal import Principal
    from patchwire.transforms.driver import Healer

__all__ = ["Pipeline"]

Vector = tuple[tuple[float, ...], int, float | None]


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
        self.prices = prices
        self._record = Recorder(
            clock=clock,
            emit=emit,
            escalate=escalate,
            escalate_categories=escalate_categories,
            prices=prices,
            redactor=redactor,
        )
        self._attempts = Attempts(
            clock=clock,
            record=self._record,
            classify=classify,
            session=session,
            redactor=redactor,
            scheme_for=self._scheme,
        )
        self._principals: PrincipalGate | None = None

    @property
    def principals(self) -> PrincipalGate | None:
        """Per-principal credentials, budgets and ledger (set by the hub)."""
        return self._principals

    @principals.setter
    def principals(self, gate: PrincipalGate | None) -> None:
        self._principals = gate
        self._record.principals = gate

    def _scheme(
        self, rt: ConnectorRuntime, principal: Principal | None, operation: str
    ) -> AuthScheme:
        """Whose credentials an attempt carries: the principal's, else the connector's."""
        if principal is None or self._principals is None:
            return rt.auth
        return self._principals.scheme_for(rt, principal, operation)

    # --- completion -------------------------------------------------------------------------

    async def complete(
        self,
        targets: Sequence[Target],
        request_for: Callable[[Target], CompletionRequest],
        options: CallOptions,
        output: OutputSpec | None = None,
        transforms: Mapping[str, Any] | None = None,
    ) -> Completion:
        record = self._record
        call_id, start, deadline, watching = record.begin(targets, "complete", options, request_for)
        admission = None
        try:
            # A call without a principal (most) has no budgets: not even the method's call.
            if options.principal is not None and record.budgeted(options):
                admission = await record.admit(options, targets[0], request_for(targets[0]))
            key = key_for(targets, "complete", request_for, options)
            if key is None:
                hit = False
                # The route awaited here, not through _complete_route, whose coroutine would
                # only forward it (issue 19); that loop takes over at a failure, to heal it,
                # out of the except clause so that no error of the healing chains onto it.
                failed = None
                try:
                    result, target, attempts, _ = await route(
                        self._attempts,
                        targets,
                        "complete",
                        request_for,
                        COMPLETE,
                        options,
                        deadline,
                        call_id,
                    )
                    if output is not None:
                        result = self._finish_output(output, result, target, attempts, call_id)
                    index = targets.index(target)
                except PatchwireError as err:
                    failed = err
                if failed is not None:
                    result, index, attempts = await self._complete_route(
                        targets, request_for, options, output, transforms, deadline, call_id, failed
                    )
            else:
                compute = functools.partial(
                    self._complete_route,
                    targets,
                    request_for,
                    options,
                    output,
                    transforms,
                    deadline,
                    call_id,
                )
                (result, index, attempts), hit = await from_cache(
                    self._record,
                    targets,
                    "complete",
                    key,
                    call_id,
                    compute,
                    completion_entry(len(targets)),
                )
        except (PatchwireError, asyncio.CancelledError) as err:
            record.failed(targets, "complete", call_id, start, err, options.principal)
            await record.principal_done(options, admission, error=err)
            raise
        target = targets[index]
        if watching:
            record.tell(watching, "reply", call_id, result)
        # A reply served from patchwire's cache costs nothing; what it would have cost is saved.
        billed = record.bill(target, result.usage)
        cost = None if hit else billed.cost()
        latency = record.succeeded(
            target,
            "complete",
            call_id,
            start,
            0 if hit else attempts,
            None if hit else result.usage,
            cost,
            hit,
            () if hit else billed.missing,
            # Positional: a keyword argument costs a name match on every call.
            billed.total if hit else None,  # saved
            # Counted whether or not the cache served them: the calls reached the application.
            len(result.tool_calls) if result.parts else 0,  # tool_calls
            (result.model, result.finish_reason, result.raw),
        )
        if options.principal is not None:
            await record.principal_done(
                options, admission, Usage() if hit else result.usage, 0.0 if hit else cost
            )
        # Built directly: attrs.evolve introspects the class on every call, and this is the
        # hot path. Positional, in field order (tests/core/test_perf_completion.py holds the
        # order): fourteen keyword arguments, each a name match, were a third of the build;
        # types.completion fills the slots without the frozen class's setattr calls.
        return completion(
            result.text,  # text
            result.usage,  # usage
            result.model or (target.model or ""),  # model
            target.runtime.name,  # connector
            result.finish_reason,  # finish_reason
            result.request_id,  # request_id
            hit,  # cached
            0 if hit else attempts,  # attempts
            latency,  # latency
            cost,  # cost
            result.raw,  # raw
            result.parts,  # parts
            result.parsed,  # parsed
            () if hit else result.transforms,  # transforms: a cached reply ran none
        )

    async def _complete_route(
        self,
        targets: Sequence[Target],
        request_for: Callable[[Target], CompletionRequest],
        options: CallOptions,
        output: OutputSpec | None,
        transforms: Mapping[str, Any] | None,
        deadline: float | None,
        call_id: int,
        failed: PatchwireError | None = None,
    ) -> tuple[Completion, int, int]:
        """Route ─ transforms ─ output validation: the reply, its target's index, attempts.
        ``failed``: the error of the route already tried as asked, to be healed first."""
        path: Sequence[Target] = targets
        make = request_for
        ran: list[str] | None = None  # the transforms that ran, made at the first failure
        while True:
            if failed is not None:
                if ran is None:
                    ran = []
                path, make = heal(
                    self._transform, failed, targets, path, make, ran, call_id, deadline, transforms
                )
            try:
                result, target, attempts, _ = await route(
                    self._attempts, path, "complete", make, COMPLETE, options, deadline, call_id
                )
                if output is not None:
                    # After the route, not per attempt: the error keeps its type and raw text.
                    result = self._finish_output(output, result, target, attempts, call_id)
                break
            except PatchwireError as err:
                failed = err
        if ran:
            result = attrs.evolve(result, transforms=tuple(ran))
        return result, targets.index(target), attempts

    def _finish_output(
        self, output: OutputSpec, result: Completion, target: Target, attempts: int, call_id: int
    ) -> Completion:
        try:
            return finish_output(output, result, target.runtime.name, attempts)
        except OutputValidationError:
            # The attempt's reply did not validate: an attempt failure of its own, marked so
            # the metrics count it per connector:model even when a transform heals the call.
            self._record.attempt_failed(
                target,
                call_id,
                "complete",
                attempts,
                Category.INTEGRATION,
                "the reply does not match the requested output schema",
                INVALID_OUTPUT,
            )
            raise

    # --- stream -----------------------------------------------------------------------------

    def stream(
        self,
        targets: Sequence[Target],
        request_for: Callable[[Target], CompletionRequest],
        options: CallOptions,
        transforms: Mapping[str, Any] | None = None,
    ) -> AsyncIterator[StreamChunk]:
        """The stream's chunks (:func:`patchwire.pipeline.streaming.stream`)."""
        return stream(self._attempts, self._transform, targets, request_for, options, transforms)

    # --- embedding: batching ----------------------------------------------------------------

    def batcher(
        self,
        key: str,
        targets: Sequence[Target],
        params: dict[str, Any],
        principal: Principal | None = None,
    ) -> EmbeddingBatcher[Vector]:
        """The route's batcher (one per route, principal and parameters), made at first use."""
        first = targets[0].runtime
        existing = first.batchers.get(key)
        if existing is not None:
            return existing  # type: ignore[return-value]
        max_batch = first.config.batch.max_size or first.connector.max_batch_size

        async def send(texts: Sequence[str], info: BatchInfo) -> Sequence[Vector]:
            # A batch is one principal's: its credentials never carry another's texts.
            options = CallOptions(priority=info.priority, principal=principal)
            return await self._send_batch(targets, params, texts, options, info.deadline)

        batcher = EmbeddingBatcher(
            self.clock, send, max_batch=max_batch, linger=first.config.batch.linger
        )
        first.batchers[key] = batcher  # type: ignore[assignment]
        return batcher

    async def _send_batch(
        self,
        targets: Sequence[Target],
        params: dict[str, Any],
        texts: Sequence[str],
        options: CallOptions,
        deadline: float | None,
    ) -> list[Vector]:
        """One coalesced batch through the route; each text's vector, tokens and cost."""
        call_id = next(self._record.ids)

        def request_for(target: Target) -> EmbeddingRequest:
            return EmbeddingRequest(target.model or "", tuple(texts), params)

        batch, target, _, _ = await route(
            self._attempts, targets, "embed", request_for, EMBED, options, deadline, call_id
        )
        self._record.event(
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
            cost = self._record.bill(target, Usage(input_tokens=share)).total
            out.append((vector, share, cost))
        return out

    async def embed(
        self,
        targets: Sequence[Target],
        text: str,
        params: dict[str, Any],
        options: CallOptions,
    ) -> Embedding:
        record = self._record
        call_id, start, deadline, _ = record.begin(targets, "embed", options)
        route_key = "|".join(t.label for t in targets) + "|" + repr(sorted(params.items()))
        if options.principal is not None:
            route_key += f"|principal={options.principal.id}"
        batcher = self.batcher(route_key, targets, params, options.principal)
        target = targets[0]
        request = EmbeddingRequest(target.model or "", (text,), params)
        admission = None
        try:
            if record.budgeted(options):
                admission = await record.admit(options, target, request)
            key = key_for(targets, "embed", request, options)
            if key is None:
                hit = False
                vector, tokens, cost = await batcher.submit(
                    text, priority=options.priority, deadline=deadline
                )
            else:
                submit = functools.partial(
                    batcher.submit, text, priority=options.priority, deadline=deadline
                )
                (vector, tokens, cost), hit = await from_cache(
                    self._record, targets, "embed", key, call_id, submit, EMBED_ENTRY
                )
        except (PatchwireError, asyncio.CancelledError) as err:
            record.failed(targets, "embed", call_id, start, err, options.principal)
            await record.principal_done(options, admission, error=err)
            raise
        record.succeeded(
            target,
            "embed",
            call_id,
            start,
            1,
            None if hit else Usage(input_tokens=tokens),
            None if hit else cost,
            hit,
        )
        await record.principal_done(
            options, admission, Usage() if hit else Usage(input_tokens=tokens), 0.0 if hit else cost
        )
        return Embedding(
            vector=vector, model=target.model or "", connector=target.runtime.name, cached=hit
        )

    # --- tools ------------------------------------------------------------------------------

    async def call_tool(
        self,
        target: Target,
        request: ToolRequest,
        options: CallOptions,
        tool_name: str,
    ) -> ToolResult:
        record = self._record
        targets = (target,)
        operation = f"tool:{request.operation}"
        call_id, start, deadline, _ = record.begin(targets, operation, options)
        admission = None
        try:
            if record.budgeted(options):
                admission = await record.admit(options, target, None)
            key = key_for(targets, operation, request, options)
            if key is None:
                hit = False
                result, attempts = await self._tool_route(
                    targets, operation, request, options, deadline, call_id
                )
            else:
                compute = functools.partial(
                    self._tool_route, targets, operation, request, options, deadline, call_id
                )
                (result, attempts), hit = await from_cache(
                    self._record, targets, operation, key, call_id, compute, TOOL_ENTRY
                )
        except (PatchwireError, asyncio.CancelledError) as err:
            record.failed(targets, operation, call_id, start, err, options.principal)
            await record.principal_done(options, admission, error=err)
            raise
        latency = record.succeeded(
            target, operation, call_id, start, 0 if hit else attempts, None, 0.0, hit
        )
        await record.principal_done(options, admission, None, 0.0)
        return attrs.evolve(
            result,
            tool=tool_name,
            operation=request.operation,
            connector=target.runtime.name,
            cached=hit,
            attempts=0 if hit else attempts,
            latency=latency,
        )

    async def _tool_route(
        self,
        targets: Sequence[Target],
        operation: str,
        request: ToolRequest,
        options: CallOptions,
        deadline: float | None,
        call_id: int,
    ) -> tuple[ToolResult, int]:
        result, _, attempts, _ = await route(
            self._attempts,
            targets,
            operation,
            lambda _: request,
            CALL_TOOL,
            options,
            deadline,
            call_id,
        )
        return result, attempts

    async def list_tools(self, target: Target, options: CallOptions) -> Any:
        record = self._record
        call_id, start, deadline, _ = record.begin((target,), "list_tools", options)
        try:
            result, _, attempts, _ = await route(
                self._attempts,
                (target,),
                "list_tools",
                list_tools_request,
                LIST_TOOLS,
                options,
                deadline,
                call_id,
            )
        except (PatchwireError, asyncio.CancelledError) as err:
            record.failed((target,), "list_tools", call_id, start, err)
            raise
        record.succeeded(target, "list_tools", call_id, start, attempts, None, 0.0, False)
        return result
