"""A scriptable fake connector for unit tests of core logic.

Each configured ``fake`` connector reads its outcomes from a :class:`FakeScript`: a queue
of replies, exceptions, delays and hangs, consumed one per attempt; when the queue is
empty it answers with ``default``. Every attempt is recorded with the virtual time it
started, so tests can assert on schedules.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any, ClassVar

import attrs

from patchwire.connector import Attempt, Capability, Connector, ConnectorContext, Setting, ToolInfo
from patchwire.hookspecs import hookimpl
from patchwire.registry import ConnectorRegistrar
from patchwire.types import (
    Completion,
    CompletionRequest,
    EmbeddingBatch,
    EmbeddingRequest,
    StreamChunk,
    ToolRequest,
    ToolResult,
    Usage,
)

__all__ = ["Delay", "FakeConnector", "FakePlugin", "FakeScript", "Hang", "Recorded"]


@attrs.frozen
class Delay:
    """Wait ``seconds`` on the attempt's clock, then produce ``then``."""

    seconds: float
    then: Any = None


@attrs.frozen
class Hang:
    """Never answer (until the attempt's timeout cancels it)."""


@attrs.frozen
class Recorded:
    operation: str
    request: Any
    attempt: int
    time: float
    headers: dict[str, str]


Outcome = Any  # str | Completion | BaseException | Delay | Hang | Callable[[Any, Attempt], Outcome]


@attrs.define
class FakeScript:
    outcomes: deque[Outcome] = attrs.field(factory=deque)
    default: Outcome = None
    calls: list[Recorded] = attrs.field(factory=list)
    usage: Usage = Usage(input_tokens=10, output_tokens=5)

    def push(self, *outcomes: Outcome) -> FakeScript:
        self.outcomes.extend(outcomes)
        return self

    def extend(self, outcomes: Iterable[Outcome]) -> FakeScript:
        self.outcomes.extend(outcomes)
        return self

    def next(self) -> Outcome:
        return self.outcomes.popleft() if self.outcomes else self.default


class FakeConnector(Connector):
    """Connector type ``fake``: a completion, stream, embedding and tool connector in one."""

    type_name = "fake"
    version = "1"
    capabilities = frozenset(Capability)
    max_batch_size = 8
    settings: ClassVar[dict[str, Setting]] = {
        "script": Setting(
            (str,), None, "name of the FakeScript to use (default: the connector's name)"
        )
    }
    scripts: ClassVar[dict[str, FakeScript]] = {}

    def __init__(self, ctx: ConnectorContext) -> None:
        super().__init__(ctx)
        self.script = self.scripts.setdefault(self.setting("script") or ctx.name, FakeScript())

    async def _resolve(self, outcome: Outcome, request: Any, attempt: Attempt) -> Any:
        while True:
            if isinstance(outcome, Delay):
                await attempt.clock.sleep(outcome.seconds)
                outcome = outcome.then
            elif isinstance(outcome, Hang):
                await asyncio.Event().wait()
            elif isinstance(outcome, BaseException):
                raise outcome
            elif callable(outcome) and not isinstance(outcome, type):
                outcome = outcome(request, attempt)
            else:
                return outcome

    def _record(self, operation: str, request: Any, attempt: Attempt) -> None:
        self.script.calls.append(
            Recorded(operation, request, attempt.number, attempt.clock.now(), dict(attempt.headers))
        )

    async def complete(self, request: CompletionRequest, attempt: Attempt) -> Completion:
        self._record("complete", request, attempt)
        out = await self._resolve(self.script.next(), request, attempt)
        if isinstance(out, Completion):
            return out
        text = out if isinstance(out, str) else f"echo: {request.messages[-1].content}"
        return Completion(
            text=text, usage=self.script.usage, model=request.model, finish_reason="stop"
        )

    async def stream(
        self, request: CompletionRequest, attempt: Attempt
    ) -> AsyncIterator[StreamChunk]:
        self._record("stream", request, attempt)
        out = await self._resolve(self.script.next(), request, attempt)
        pieces: Sequence[Any] = (
            out if isinstance(out, list) else [out or f"echo: {request.messages[-1].content}"]
        )
        for index, piece in enumerate(pieces):
            piece = await self._resolve(piece, request, attempt)
            last = index == len(pieces) - 1
            yield StreamChunk(
                str(piece),
                usage=self.script.usage if last else None,
                finish_reason="stop" if last else None,
            )

    async def embed(self, request: EmbeddingRequest, attempt: Attempt) -> EmbeddingBatch:
        self._record("embed", request, attempt)
        out = await self._resolve(self.script.next(), request, attempt)
        if isinstance(out, EmbeddingBatch):
            return out
        vectors = tuple((float(len(t)), float(sum(map(ord, t)) % 997)) for t in request.inputs)
        return EmbeddingBatch(vectors, Usage(input_tokens=sum(len(t) for t in request.inputs)))

    async def call_tool(self, request: ToolRequest, attempt: Attempt) -> ToolResult:
        self._record("tool", request, attempt)
        out = await self._resolve(self.script.next(), request, attempt)
        if isinstance(out, ToolResult):
            return out
        return ToolResult(
            output=out if out is not None else dict(request.arguments), text=str(out or "")
        )

    async def list_tools(self, attempt: Attempt) -> Sequence[ToolInfo]:
        return [ToolInfo("echo", "returns its arguments", {"type": "object"})]


class FakePlugin:
    """Registers the ``fake`` connector type."""

    PATCHWIRE_CONTRACT = "1.0"

    @hookimpl
    def patchwire_register_connectors(self, register: ConnectorRegistrar) -> None:
        register("fake", FakeConnector)


def reset_scripts() -> None:
    FakeConnector.scripts.clear()
