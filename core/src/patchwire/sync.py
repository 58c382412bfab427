"""A synchronous facade for scripts and notebooks.

The hub runs on a private event loop in a background thread; each call blocks until its
result is ready. Works inside Jupyter, whose own loop is already running in the main thread.
Every public method of :class:`Hub`, :class:`Model` and :class:`Tool` has a blocking twin
here (``aclose`` is ``close``); ``tests/core/test_sync_facade.py`` keeps the two in step.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from patchwire.connector import ToolInfo
from patchwire.hub import Hub
from patchwire.model import Model, Tool
from patchwire.principals.principal import Principal, acting_for, current_principal
from patchwire.types import Completion, Embedding, StreamChunk, ToolResult

if TYPE_CHECKING:
    from patchwire.auth.pkce import AuthorizationStart
    from patchwire.auth.tokenstore import StoredToken, TokenStore
    from patchwire.clock import Clock
    from patchwire.metrics import ConnectorMetrics, MetricsSnapshot
    from patchwire.metrics_server import MetricsServer
    from patchwire.principals.ledger import PrincipalUsage
    from patchwire.run import Run, RunEvent
    from patchwire.run_tools import BoundTool

__all__ = ["SyncHub", "SyncModel", "SyncTool"]

T = TypeVar("T")


class _LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="patchwire-sync", daemon=True
        )
        self.thread.start()

    def run(self, coro: Awaitable[T]) -> T:
        # The caller's ``hub.acting_for`` block lives in its own thread's context: carry it.
        principal = current_principal()

        async def wrap() -> T:
            if principal is None:
                return await coro
            with acting_for(principal):
                return await coro

        return asyncio.run_coroutine_threadsafe(wrap(), self.loop).result()

    def call(self, function: Callable[[], T]) -> T:
        """Run a plain function on the loop thread, so it reads state no other thread mutates."""

        async def wrap() -> T:
            return function()

        return asyncio.run_coroutine_threadsafe(wrap(), self.loop).result()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


class SyncModel:
    def __init__(self, model: Model, runner: _LoopThread) -> None:
        self._model = model
        self._runner = runner

    @property
    def name(self) -> str:
        return self._model.name

    @property
    def targets(self) -> tuple[str, ...]:
        return self._model.targets

    @property
    def clock(self) -> Clock:
        return self._model.clock

    def complete(self, prompt: Any, **kwargs: Any) -> Completion:
        return self._runner.run(self._model.complete(prompt, **kwargs))

    def run(self, prompt: Any, **kwargs: Any) -> Run:
        """The tool loop (:meth:`Model.run`); tools and approvers run on the hub's loop."""
        return self._runner.run(self._model.run(prompt, **kwargs))

    def run_stream(self, prompt: Any, **kwargs: Any) -> Iterator[RunEvent]:
        agen = self._model.run_stream(prompt, **kwargs)
        while True:
            try:
                yield self._runner.run(agen.__anext__())
            except StopAsyncIteration:
                return

    def stream(self, prompt: Any, **kwargs: Any) -> Iterator[StreamChunk]:
        agen = self._model.stream(prompt, **kwargs)
        while True:
            try:
                yield self._runner.run(agen.__anext__())
            except StopAsyncIteration:
                return

    def embed(self, text: str, **kwargs: Any) -> Embedding:
        return self._runner.run(self._model.embed(text, **kwargs))

    def embed_many(self, texts: Sequence[str], **kwargs: Any) -> list[Embedding]:
        return self._runner.run(self._model.embed_many(texts, **kwargs))

    def usage(self) -> ConnectorMetrics:
        return self._runner.call(self._model.usage)

    def __repr__(self) -> str:
        return f"<SyncModel {self._model.name!r} targets={list(self._model.targets)}>"


class SyncTool:
    def __init__(self, tool: Tool, runner: _LoopThread) -> None:
        self._tool = tool
        self._runner = runner

    @property
    def name(self) -> str:
        return self._tool.name

    def call(self, operation: str, /, **kwargs: Any) -> ToolResult:
        return self._runner.run(self._tool.call(operation, **kwargs))

    def call_with(self, operation: str, arguments: Mapping[str, Any], **kwargs: Any) -> ToolResult:
        return self._runner.run(self._tool.call_with(operation, arguments, **kwargs))

    def as_tools(self, **kwargs: Any) -> tuple[BoundTool, ...]:
        """Every operation as a tool a model can call (``tools=[...]`` of complete/run)."""
        return self._runner.run(self._tool.as_tools(**kwargs))

    def list(self, *, timeout: float | None = None) -> list[ToolInfo]:
        """The operations this tool offers (MCP tools, declared web operations, CLI commands)."""
        return self._runner.run(self._tool.list(timeout=timeout))

    def __repr__(self) -> str:
        return f"<SyncTool {self._tool.name!r}>"


class SyncHub:
    """``with SyncHub.from_file("patchwire.toml") as hub: hub.model("openai:gpt-4o-mini").complete("hi")``."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self._runner = _LoopThread()

    @property
    def hub(self) -> Hub:
        """The asynchronous hub behind this facade (its loop runs in a background thread)."""
        return self._hub

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: Any) -> SyncHub:
        return cls(Hub.from_file(path, **kwargs))

    @classmethod
    def from_dict(cls, data: dict[str, Any], **kwargs: Any) -> SyncHub:
        return cls(Hub.from_dict(data, **kwargs))

    @classmethod
    def from_environment(cls, path: str | Path | None = None, **kwargs: Any) -> SyncHub:
        """``path``, else ``$PATCHWIRE_CONFIG``, else ``./patchwire.toml``, else defaults."""
        return cls(Hub.from_environment(path, **kwargs))

    def model(self, name: str) -> SyncModel:
        return SyncModel(self._hub.model(name), self._runner)

    def tool(self, name: str) -> SyncTool:
        return SyncTool(self._hub.tool(name), self._runner)

    def metrics(self, *, window: float | None = None) -> MetricsSnapshot:
        return self._runner.call(lambda: self._hub.metrics(window=window))

    def serve_metrics(self, port: int = 9464, host: str = "127.0.0.1") -> MetricsServer:
        """Serve the metrics over local HTTP from the hub's loop thread; closed with the hub."""
        return self._runner.run(self._hub.serve_metrics(port=port, host=host))

    def acting_for(self, principal: Principal) -> acting_for:
        """``with hub.acting_for(principal):`` — blocking calls inside are made for it."""
        return acting_for(principal)

    def usage(
        self, *, principal: Principal | str | None = None, tag: tuple[str, str] | None = None
    ) -> PrincipalUsage:
        return self._runner.call(lambda: self._hub.usage(principal=principal, tag=tag))

    def token_store(self) -> TokenStore:
        return self._runner.call(self._hub.token_store)

    def begin_authorization(
        self,
        connector: str,
        principal: Principal | str,
        *,
        scopes: list[str] | None = None,
        redirect_uri: str | None = None,
    ) -> AuthorizationStart:
        return self._runner.call(
            lambda: self._hub.begin_authorization(
                connector, principal, scopes=scopes, redirect_uri=redirect_uri
            )
        )

    def complete_authorization(
        self,
        connector: str,
        principal: Principal | str,
        *,
        code: str,
        state: str,
        start: AuthorizationStart | None = None,
    ) -> StoredToken:
        return self._runner.run(
            self._hub.complete_authorization(
                connector, principal, code=code, state=state, start=start
            )
        )

    def close(self) -> None:
        self._runner.run(self._hub.aclose())
        self._runner.stop()

    def __enter__(self) -> SyncHub:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
