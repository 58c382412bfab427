"""What the application holds: a :class:`Model` (one target or a route) and a :class:`Tool`."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from patchwire.arguments import (
    check_embed_text,
    check_embed_texts,
    check_operation,
    check_options,
    check_prompt,
)
from patchwire.clock import Clock
from patchwire.connector import ToolInfo
from patchwire.errors import InvalidRequestError
from patchwire.features import parse_stream, split_features
from patchwire.pipeline import Pipeline, Target
from patchwire.principals.principal import _CURRENT, Principal, acting_for
from patchwire.types import (
    CallOptions,
    Completion,
    CompletionRequest,
    Embedding,
    Message,
    RequestFeatures,
    StreamChunk,
    ToolRequest,
    ToolResult,
    completion_request,
    user_prompt,
)

if TYPE_CHECKING:
    from patchwire.metrics import ConnectorMetrics
    from patchwire.output import OutputSpec
    from patchwire.run import Run, RunEvent
    from patchwire.run_tools import BoundTool

__all__ = ["Model", "Tool"]

Prompt = str | Message | Sequence[Message | Mapping[str, Any]]


_DEFAULT_OPTIONS = CallOptions()
_new = object.__new__
# current_principal's own reading (the innermost acting_for's principal), without its
# frame: every call asks it.
_acting = _CURRENT.get


def _options(
    priority: int,
    timeout: float | None,
    cache: bool | None,
    idempotency_key: str | None,
    cache_ttl: float | None = None,
    principal: Principal | None = None,
) -> CallOptions:
    if (
        principal is None
        and type(priority) is int
        and not priority
        and timeout is None
        and cache is None
        and idempotency_key is None
        and cache_ttl is None
    ):
        # The defaults, which pass every check: most calls. Frozen, so one serves them all.
        principal = _acting()
        return _DEFAULT_OPTIONS if principal is None else CallOptions(principal=principal)
    check_options(priority, timeout, cache, idempotency_key)
    if principal is None:
        principal = _acting()
    elif not isinstance(principal, Principal):
        raise InvalidRequestError(
            f"principal= takes a patchwire.Principal, got {type(principal).__name__}"
        )
    if cache_ttl is not None and (
        isinstance(cache_ttl, bool)
        or not isinstance(cache_ttl, int | float)
        or not 0 <= cache_ttl < math.inf
    ):
        raise InvalidRequestError(
            f"cache_ttl must be a number of seconds >= 0 (0: do not cache), got {cache_ttl!r}"
        )
    return CallOptions(
        priority=priority,
        timeout=timeout,
        cache=cache,
        idempotency_key=idempotency_key,
        cache_ttl=cache_ttl,
        principal=principal,
    )


class _Requests:
    """The request a call sends to each target: what a per-call closure would be, as one
    object instead of a function and a cell per captured name (issue 19: fewer
    GC-tracked objects per call in flight). ``last`` is the target it last built for,
    which, when the pipeline has opened a stream, is the target that answered it (unless
    a transform moved the request on: ``fallback`` builds its own request).

    Asked twice in a row for the same target (the cache key, then the attempt), it hands
    back the request it built: a ``CompletionRequest`` is frozen and built from the same
    values each time, so the second would be an equal copy."""

    __slots__ = ("features", "idempotency_key", "last", "made", "messages", "params")

    def __init__(
        self,
        messages: tuple[Message, ...],
        params: Mapping[str, Any],
        idempotency_key: str | None,
        features: RequestFeatures | None,
    ) -> None:
        self.messages = messages
        self.params = params
        self.idempotency_key = idempotency_key
        self.features = features
        self.last: Target | None = None
        self.made: CompletionRequest | None = None

    def __call__(self, target: Target) -> CompletionRequest:
        made = self.made
        if made is not None and target is self.last:
            return made
        self.last = target
        self.made = made = completion_request(
            target.model or "", self.messages, self.params, self.idempotency_key, self.features
        )
        return made


async def _offered_tools(tools: Sequence[Any]) -> list[Any]:
    """``tools=`` as the specs a request carries: hub tool handles are listed (awaited),
    bound functions and record types offered by their specs."""
    from patchwire.run_tools import resolve_tools

    return list((await resolve_tools(tools)).specs)


class _StreamedOutput:
    """Validates a structured stream's whole text the way the pipeline validates a
    complete reply (:meth:`Pipeline._finish_output`): a text that does not fit is counted
    in the metrics' ``invalid_outputs`` for the target that streamed it, and the caller
    gets the ``OutputValidationError`` naming that connector and model.

    The stream's call id and attempt count stay inside the pipeline, so the event carries
    call id 0 (a tracing sink attaches it to no span) and attempt 1."""

    __slots__ = ("first", "output", "pipeline", "requests")

    def __init__(
        self, pipeline: Pipeline, output: OutputSpec, requests: _Requests, first: Target
    ) -> None:
        self.pipeline = pipeline
        self.output = output
        self.requests = requests
        self.first = first

    def __call__(self, text: str) -> Any:
        target = self.requests.last or self.first
        reply = Completion(text=text, model=target.model or "")
        return self.pipeline._finish_output(self.output, reply, target, 1, 0).parsed


class Model:
    """A model behind one connector, or a route of several tried in order.

    ``params`` are generation parameters by patchwire's names (``max_tokens``,
    ``temperature``, ``top_p``, ``stop``, ``seed``...); each connector maps them to its wire.
    """

    def __init__(
        self,
        name: str,
        pipeline: Pipeline,
        targets: Sequence[Target],
        priority_targets: Sequence[Target] = (),
        priority_threshold: int = 1,
        usage: Callable[[Sequence[Target]], ConnectorMetrics] | None = None,
        transforms: Mapping[str, Any] | None = None,
    ) -> None:
        self.name = name
        #: the route's transform settings (None: each connector's own)
        self._transforms = transforms
        self._pipeline = pipeline
        self._targets = tuple(targets)
        self._priority_targets = tuple(priority_targets)
        self._threshold = priority_threshold
        self._usage = usage

    @property
    def clock(self) -> Clock:
        """The hub's clock, which this model's calls and runs are timed by."""
        return self._pipeline.clock

    @property
    def targets(self) -> tuple[str, ...]:
        return tuple(t.label for t in self._targets)

    def _targets_for(self, options: CallOptions) -> tuple[Target, ...]:
        if self._priority_targets and options.priority >= self._threshold:
            extra = tuple(t for t in self._targets if t not in self._priority_targets)
            return self._priority_targets + extra
        return self._targets

    async def complete(
        self,
        prompt: Prompt,
        *,
        priority: int = 0,
        timeout: float | None = None,
        cache: bool | None = None,
        idempotency_key: str | None = None,
        cache_ttl: float | None = None,
        principal: Principal | None = None,
        **params: Any,
    ) -> Completion:
        # A plain text (most prompts) is made a message without check_prompt's call.
        messages = user_prompt(prompt) if type(prompt) is str else check_prompt(prompt)
        options = _options(priority, timeout, cache, idempotency_key, cache_ttl, principal)
        features = output = None
        if params:  # most calls pass none: then there are no tools or features to look at
            if params.get("tools"):
                params["tools"] = await _offered_tools(params["tools"])
            params, features = split_features(params)
            output = features.output if features else None
        # _Requests(messages, params, idempotency_key, features) with its slots stored
        # here: the type call into __init__ cost more than the stores (issue 19).
        requests = _new(_Requests)
        requests.messages = messages
        requests.params = params
        requests.idempotency_key = idempotency_key
        requests.features = features
        requests.last = None
        requests.made = None
        return await self._pipeline.complete(
            # Without priority targets (most models) the route is the targets: no method call.
            self._targets_for(options) if self._priority_targets else self._targets,
            requests,
            options,
            output,
            self._transforms,
        )

    def stream(
        self,
        prompt: Prompt,
        *,
        priority: int = 0,
        timeout: float | None = None,
        idempotency_key: str | None = None,
        principal: Principal | None = None,
        **params: Any,
    ) -> AsyncIterator[StreamChunk]:
        messages = check_prompt(prompt)
        options = _options(priority, timeout, False, idempotency_key, None, principal)
        if params.get("tools"):  # hub tools are listed (awaited) before the stream opens
            return self._stream_offering_tools(messages, options, params)
        return self._stream(messages, options, params)

    async def _stream_offering_tools(
        self, messages: tuple[Message, ...], options: CallOptions, params: dict[str, Any]
    ) -> AsyncIterator[StreamChunk]:
        params["tools"] = await _offered_tools(params["tools"])
        chunks = self._stream(messages, options, params)
        try:
            async for chunk in chunks:
                yield chunk
        finally:
            # A caller that stops early closes the pipeline's stream (and its connection)
            # now, not when the garbage collector gets to it.
            await cast(AsyncGenerator[StreamChunk, None], chunks).aclose()

    def _stream(
        self, messages: tuple[Message, ...], options: CallOptions, params: dict[str, Any]
    ) -> AsyncIterator[StreamChunk]:
        params, features = split_features(params)
        targets = self._targets_for(options)
        requests = _Requests(messages, params, options.idempotency_key, features)
        chunks = self._pipeline.stream(targets, requests, options, self._transforms)
        if features is not None and features.output is not None:
            check = _StreamedOutput(self._pipeline, features.output, requests, targets[0])
            return parse_stream(chunks, features.output, check)
        return chunks

    async def embed(
        self,
        text: str,
        *,
        priority: int = 0,
        timeout: float | None = None,
        cache: bool | None = None,
        cache_ttl: float | None = None,
        principal: Principal | None = None,
        **params: Any,
    ) -> Embedding:
        check_embed_text(text)
        options = _options(priority, timeout, cache, None, cache_ttl, principal)
        return await self._pipeline.embed(self._targets_for(options), text, dict(params), options)

    async def embed_many(
        self,
        texts: Sequence[str],
        *,
        priority: int = 0,
        timeout: float | None = None,
        cache: bool | None = None,
        cache_ttl: float | None = None,
        principal: Principal | None = None,
        **params: Any,
    ) -> list[Embedding]:
        """One embedding per text, in order; the batcher packs them into provider batches."""
        # Every item and option checked first: one bad item must not let the others go out.
        texts = check_embed_texts(texts)
        _options(priority, timeout, cache, None, cache_ttl)
        return list(
            await asyncio.gather(
                *(
                    self.embed(
                        t,
                        priority=priority,
                        timeout=timeout,
                        cache=cache,
                        cache_ttl=cache_ttl,
                        principal=principal,
                        **params,
                    )
                    for t in texts
                )
            )
        )

    async def run(
        self, prompt: Prompt, *, principal: Principal | None = None, **options: Any
    ) -> Run:
        """Call the model, run the tool calls it asks for, send the results back, repeat.

        See :func:`patchwire.run.run` for the options (``tools``, ``max_steps``,
        ``timeout``, budgets, ``stop_on``, ``approve``). ``principal``: every model and
        tool call of the run is made for it.
        """
        from patchwire.run import run

        if principal is None:
            return await run(self, prompt, **options)
        with acting_for(principal):
            return await run(self, prompt, **options)

    def run_stream(self, prompt: Prompt, **options: Any) -> AsyncIterator[RunEvent]:
        """:meth:`run` as events, as they happen; the last is ``finished`` or ``failed``."""
        from patchwire.run import run_events

        return run_events(self, prompt, **options)

    def usage(self) -> ConnectorMetrics:
        """A metrics snapshot for this model (every target of a route, combined)."""
        if self._usage is None:
            raise RuntimeError("this model was created without a metrics aggregator")
        return self._usage(self._targets)

    def __repr__(self) -> str:
        return f"<Model {self.name!r} targets={list(self.targets)}>"


class Tool:
    """A configured tool connector: ``await tool.call("operation", arg=value)``."""

    def __init__(self, name: str, pipeline: Pipeline, target: Target) -> None:
        self.name = name
        self._pipeline = pipeline
        self._target = target

    async def call(
        self,
        operation: str,
        /,
        *,
        priority: int = 0,
        timeout: float | None = None,
        cache: bool | None = None,
        idempotency_key: str | None = None,
        cache_ttl: float | None = None,
        principal: Principal | None = None,
        **arguments: Any,
    ) -> ToolResult:
        check_operation(operation)
        options = _options(priority, timeout, cache, idempotency_key, cache_ttl, principal)
        request = ToolRequest(operation, arguments, idempotency_key)
        return await self._pipeline.call_tool(self._target, request, options, self.name)

    async def call_with(
        self,
        operation: str,
        arguments: Mapping[str, Any],
        *,
        timeout: float | None = None,
        principal: Principal | None = None,
    ) -> ToolResult:
        """:meth:`call` with the arguments as a mapping, for names that clash with its options
        (a model's tool call may well pass ``timeout`` or ``cache`` as an argument)."""
        check_operation(operation)
        options = _options(0, timeout, None, None, None, principal)
        request = ToolRequest(operation, arguments, None)
        return await self._pipeline.call_tool(self._target, request, options, self.name)

    async def as_tools(
        self,
        *,
        operations: Collection[str] | None = None,
        needs_approval: bool | Collection[str] = False,
        timeout: float | None = None,
    ) -> tuple[BoundTool, ...]:
        """Every operation this tool lists, as a tool a model can call (``tools=[...]`` of
        ``complete``/``run``); see :mod:`patchwire.run_tools` for the names."""
        from patchwire.run_tools import hub_tools

        return await hub_tools(
            self, operations=operations, needs_approval=needs_approval, timeout=timeout
        )

    async def list(self, *, timeout: float | None = None) -> list[ToolInfo]:
        """The operations this tool offers (MCP tools, declared web operations, CLI commands)."""
        options = _options(0, timeout, False, None)
        return list(await self._pipeline.list_tools(self._target, options))

    def __repr__(self) -> str:
        return f"<Tool {self.name!r}>"
