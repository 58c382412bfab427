"""What the suite watches while a connector runs: loop lag, leftovers, logs, credentials."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import time
from collections.abc import Iterable, Iterator
from typing import Any

import aiohttp

__all__ = ["LogCapture", "LoopLag", "Resources", "cancel_outcome", "error_texts", "leaking"]

# Tasks the test kit itself keeps alive; anything else left running after the hub closed
# belongs to the connector.
_KIT_TASKS = ("patchwire-virtual-clock", "patchwire-keep", "conformance-")


class LoopLag:
    """Measures how late a periodic tick runs: a blocked event loop makes it late."""

    def __init__(self, tick: float = 0.005) -> None:
        self.tick = tick
        self.worst = 0.0
        self.skip = False
        self._task: asyncio.Task[None] | None = None

    def exempt(self) -> None:
        """Ignore the current tick: the suite itself just held the loop (a gc census)."""
        self.skip = True

    async def _run(self) -> None:
        while True:
            start = time.monotonic()
            await asyncio.sleep(self.tick)
            if not self.skip:
                self.worst = max(self.worst, time.monotonic() - start - self.tick)
            self.skip = False

    def __enter__(self) -> LoopLag:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="conformance-lag")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()


class LogCapture(logging.Handler):
    """Every log record at any level, formatted with its arguments and exception."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.texts.append(text + " " + repr(record.__dict__))

    @contextlib.contextmanager
    def installed(self) -> Iterator[LogCapture]:
        root = logging.getLogger()
        level = root.level
        root.addHandler(self)
        root.setLevel(logging.DEBUG)
        try:
            yield self
        finally:
            root.removeHandler(self)
            root.setLevel(level)


def _open_fds() -> set[int] | None:
    try:
        return {int(fd) for fd in os.listdir("/proc/self/fd")}
    except OSError:  # not Linux: the session/response census still runs
        return None


def _open_http(collect: bool) -> tuple[dict[int, Any], dict[int, Any]]:
    """Open aiohttp sessions and responses by id, in one pass over the heap (a full gc
    first when ``collect``: only what is still reachable counts as leaked)."""
    if collect:
        gc.collect()
    sessions: dict[int, Any] = {}
    responses: dict[int, Any] = {}
    for obj in gc.get_objects():
        if isinstance(obj, aiohttp.ClientSession) and not obj.closed:
            sessions[id(obj)] = obj
        elif isinstance(obj, aiohttp.ClientResponse) and not obj.closed:
            responses[id(obj)] = obj
    return sessions, responses


class Resources:
    """A census of open sessions, responses, tasks and descriptors, to compare later."""

    def __init__(self) -> None:
        sessions, responses = _open_http(collect=False)
        self.sessions = set(sessions)
        self.responses = set(responses)
        self.tasks = set(asyncio.all_tasks())
        self.fds = _open_fds()

    def open_responses(self) -> list[str]:
        _, responses = _open_http(collect=True)
        return [repr(r) for i, r in responses.items() if i not in self.responses]

    async def leftovers(self) -> list[str]:
        """What was opened since the census and is still open, after a few loop turns."""
        for _ in range(3):
            await asyncio.sleep(0)
        await asyncio.sleep(0.01)
        sessions, responses = _open_http(collect=True)
        found = [
            f"open aiohttp.ClientSession {s!r}"
            for i, s in sessions.items()
            if i not in self.sessions
        ]
        found += [
            f"unreleased response {r!r}" for i, r in responses.items() if i not in self.responses
        ]
        found += [
            f"running task {t.get_name()} ({t.get_coro()!r})"
            for t in asyncio.all_tasks() - self.tasks
            if not t.done() and not t.get_name().startswith(_KIT_TASKS)
        ]
        now = _open_fds()
        if self.fds is not None and now is not None:
            extra = sorted(now - self.fds)
            if extra:
                found.append(f"{len(extra)} file descriptor(s) still open: {extra[:8]}")
        return found


def error_texts(error: BaseException) -> Iterator[str]:
    """Every text an error carries: message, repr, fields, details, args, chained errors."""
    seen: set[int] = set()
    todo: list[BaseException] = [error]
    while todo:
        exc = todo.pop()
        if id(exc) in seen:
            continue
        seen.add(id(exc))
        yield str(exc)
        yield repr(exc)
        yield repr(exc.args)
        yield repr(getattr(exc, "__notes__", ""))
        for value in vars(exc).values():
            yield repr(value)
        for failure in getattr(exc, "failures", ()) or ():
            if isinstance(failure, BaseException):
                todo.append(failure)
        todo.extend(e for e in (exc.__cause__, exc.__context__) if e is not None)


def leaking(secret: str, texts: Iterable[tuple[str, str]]) -> list[str]:
    """The places (name of each text) where ``secret`` appears."""
    return [where for where, text in texts if secret in text]


async def cancel_outcome(task: asyncio.Future[Any], grace: float = 2.0) -> str:
    """Cancel ``task`` and say how it ended: ``"cancelled"`` is the only right answer."""
    task.cancel()
    try:
        await asyncio.wait_for(asyncio.shield(task), grace)
    except asyncio.CancelledError:
        return "cancelled"
    except TimeoutError:
        return f"still running {grace:g}s after cancel()"
    except BaseException as exc:  # what the connector turned the cancellation into
        return f"{type(exc).__name__}: {exc}"
    return "it returned a result"
