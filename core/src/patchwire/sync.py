"""A synchronous facade for scripts and notebooks.

The hub runs on a private event loop in a background thread; each call blocks until its
result is ready. Works inside Jupyter, whose own loop is already running in the main thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from patchwire.hub import Hub
from patchwire.model import Model, Tool
from patchwire.types import Completion, Embedding, StreamChunk, ToolResult

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
        async def wrap() -> T:
            return await coro

        return asyncio.run_coroutine_threadsafe(wrap(), self.loop).result()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


class SyncModel:
    def __init__(self, model: Model, runner: _LoopThread) -> None:
        self._model = model
        self._runner = runner

    def complete(self, prompt: Any, **kwargs: Any) -> Completion:
        return self._runner.run(self._model.complete(prompt, **kwargs))

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

    def usage(self) -> Any:
        return self._model.usage()


class SyncTool:
    def __init__(self, tool: Tool, runner: _LoopThread) -> None:
        self._tool = tool
        self._runner = runner

    def call(self, operation: str, /, **kwargs: Any) -> ToolResult:
        return self._runner.run(self._tool.call(operation, **kwargs))


class SyncHub:
    """``with SyncHub.from_file("patchwire.toml") as hub: hub.model("openai:gpt-4o-mini").complete("hi")``."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self._runner = _LoopThread()

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: Any) -> SyncHub:
        return cls(Hub.from_file(path, **kwargs))

    @classmethod
    def from_dict(cls, data: dict[str, Any], **kwargs: Any) -> SyncHub:
        return cls(Hub.from_dict(data, **kwargs))

    def model(self, name: str) -> SyncModel:
        return SyncModel(self._hub.model(name), self._runner)

    def tool(self, name: str) -> SyncTool:
        return SyncTool(self._hub.tool(name), self._runner)

    def metrics(self) -> Any:
        return self._hub.metrics()

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
