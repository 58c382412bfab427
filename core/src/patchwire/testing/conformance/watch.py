"""What the suite watches while a connector runs: loop lag, leftovers, logs, credentials."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import gc
import itertools
import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

import aiohttp

__all__ = ["LogCapture", "LoopLag", "Resources", "cancel_outcome", "error_texts", "leaking"]

# Tasks the test kit itself keeps alive; anything else left running after the hub closed
# belongs to the connector.
_KIT_TASKS = ("patchwire-virtual-clock", "patchwire-keep", "conformance-")


def _runqueue_wait() -> float:
    """Seconds this thread has spent runnable but not running (0 where unknown)."""
    try:
        with open("/proc/thread-self/schedstat") as stats:
            return int(stats.read().split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return 0.0


class LoopLag:
    """Measures how late a periodic tick runs: a blocked event loop makes it late.

    Delays that are not the connector's are taken out: the time the loop's thread waited
    for a CPU on a busy machine (Linux schedstat), and stalls of the whole process, seen
    by a thread that ticks beside the loop and is late too. A blocking call in the loop
    (``time.sleep``, sync I/O, a long computation) is neither: the thread is not queued
    for a CPU, and the ticking thread stays on time because each of those lets go of the
    GIL or is made to every few milliseconds. (A C call that holds the GIL for long, such
    as a pathological regular expression, stalls both threads and is not counted.)
    """

    def __init__(self, tick: float = 0.005) -> None:
        self.tick = tick
        self.skip = False
        self._delays: list[tuple[float, float, float]] = []
        self._task: asyncio.Task[None] | None = None
        self._thread_ticks: collections.deque[float] = collections.deque(maxlen=4096)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def exempt(self) -> None:
        """Ignore the current tick: the suite itself just held the loop (a gc census)."""
        self.skip = True

    def _process_stall(self, start: float, end: float) -> float:
        """The longest gap between the thread's ticks that overlaps [start, end]."""
        ticks = list(self._thread_ticks)
        worst = 0.0
        for before, after in itertools.pairwise(ticks):
            if after >= start and before <= end:
                worst = max(worst, min(after, end) - max(before, start))
        return worst

    def _watch(self) -> None:
        while not self._stop.wait(self.tick):
            self._thread_ticks.append(time.monotonic())

    async def _run(self) -> None:
        while True:
            start = time.monotonic()
            queued = _runqueue_wait()
            await asyncio.sleep(self.tick)
            end = time.monotonic()
            # Time the loop's thread spent ready but waiting for a CPU (Linux schedstat) is
            # the machine's doing; a connector's time.sleep or blocking I/O is not in it.
            waited = _runqueue_wait() - queued
            late = end - start - self.tick - waited
            if not self.skip and late > 2 * self.tick:
                # judged later, once the thread has ticked after this delay too
                self._delays.append((start, end, late))
            self.skip = False

    @property
    def worst(self) -> float:
        """The longest delay of the loop that the rest of the process did not share."""
        return max(
            (late - self._process_stall(start, end) for start, end, late in self._delays),
            default=0.0,
        )

    def __enter__(self) -> LoopLag:
        self._thread = threading.Thread(target=self._watch, name="conformance-lag", daemon=True)
        self._thread_ticks.append(time.monotonic())
        self._thread.start()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="conformance-lag")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


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
        # Collect first: garbage an earlier test left (an SDK client nobody closed) is
        # finalized now, not during this run's census, where the close task its finalizer
        # schedules would be blamed on the connector under test.
        sessions, responses = _open_http(collect=True)
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
