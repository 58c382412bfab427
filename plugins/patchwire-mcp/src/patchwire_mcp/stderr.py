"""A stdio server's stderr, read into the log without letting it grow without bound.

stderr is the server's free-form log (never an error signal, says the spec). Each line
goes to the connector's logger, cut to ``max_line`` characters; after ``max_lines`` lines
from one process the rest is read and dropped, so a chatty server can neither flood the
log nor block on a full pipe. The last few lines are kept to explain a server that dies.
End of file means every holder of the pipe is gone: the server has exited.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
from collections.abc import Callable
from typing import TextIO

__all__ = ["StderrPump"]

_CHUNK = 65536


class StderrPump:
    def __init__(
        self,
        log: logging.Logger,
        *,
        max_lines: int = 1000,
        max_line: int = 2000,
        keep: int = 10,
        on_eof: Callable[[], None] = lambda: None,
    ) -> None:
        self._log = log
        self._max_lines = max_lines
        self._max_line = max_line
        self._on_eof = on_eof
        self.tail: collections.deque[str] = collections.deque(maxlen=keep)
        self.logged = 0
        self.dropped = 0
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        self._reader = os.fdopen(read_fd, "rb", buffering=0)
        self._writer: TextIO | None = os.fdopen(write_fd, "w", encoding="utf-8")
        self._closed = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(
            self._pump(), name="patchwire-mcp-stderr"
        )

    @property
    def errlog(self) -> TextIO:
        """The write end, for the child process's stderr."""
        if self._writer is None:
            raise RuntimeError("the stderr pipe was already handed to the server")
        return self._writer

    def spawned(self) -> None:
        """Drop our copy of the write end, so end of file comes when the server's copies close."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    async def wait_eof(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for end of file; True when it came."""
        try:
            await asyncio.wait_for(self._closed.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def aclose(self) -> None:
        self.spawned()
        if not self._task.done():
            # A grandchild may hold the pipe open long after the server is gone.
            self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        # A pump cancelled before it ran never handed the read end to a transport.
        self._reader.close()
        self._closed.set()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def _line(self, raw: bytes) -> None:
        text = raw.decode("utf-8", errors="replace").rstrip("\r")
        if len(text) > self._max_line:
            text = text[: self._max_line] + f"... ({len(text) - self._max_line} more characters)"
        self.tail.append(text)
        if self.logged < self._max_lines:
            self.logged += 1
            self._log.info("stderr: %s", text)
            if self.logged == self._max_lines:
                self._log.warning(
                    "logged %d stderr lines from this server process; dropping the rest",
                    self._max_lines,
                )
        else:
            self.dropped += 1

    async def _pump(self) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=_CHUNK)
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), self._reader
        )
        pending = b""
        try:
            while chunk := await reader.read(_CHUNK):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for raw in lines:
                    self._line(raw)
                if len(pending) > self._max_line * 4:
                    # One endless line: log what we have rather than buffer it all.
                    self._line(pending)
                    pending = b""
            if pending:
                self._line(pending)
        finally:
            transport.close()
            self._closed.set()
        self._on_eof()
