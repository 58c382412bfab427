"""A real ``redis-server`` for tests, started on a free loopback port and never persisted.

For this distribution's tests and for anyone testing against the Redis backends (core's
security tests use it). No ``redis-server`` on PATH is a test failure, not a skip: a
silently skipped suite would pass without ever talking to Redis.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

__all__ = ["RedisServer", "free_port"]


class RedisServer:
    """One ``redis-server`` process in ``directory`` on 127.0.0.1:``port``; ``options`` are
    more command-line options (``["--requirepass", "..."]``)."""

    def __init__(
        self, directory: Path, port: int | None = None, options: Sequence[str] = ()
    ) -> None:
        self.directory = directory
        self.port = port if port is not None else free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.options = tuple(options)
        self._process: subprocess.Popen[bytes] | None = None

    @classmethod
    @contextlib.contextmanager
    def running(
        cls, directory: Path, port: int | None = None, options: Sequence[str] = ()
    ) -> Iterator[RedisServer]:
        """A started server, killed on exit."""
        server = cls(directory, port, options)
        server.start()
        try:
            yield server
        finally:
            server.kill()

    def start(self) -> None:
        program = shutil.which("redis-server")
        if program is None:
            pytest.fail(
                "redis-server is not on PATH: the patchwire-redis tests need a real Redis"
                " (apt-get install redis-server)",
                pytrace=False,
            )
        self._process = subprocess.Popen(
            [
                program,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
                *self.options,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_for_pong()

    def kill(self) -> None:
        """Stop the server at once, as a crash would."""
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=10)
            self._process = None

    def _wait_for_pong(self) -> None:
        deadline = time.monotonic() + 10.0
        while True:
            assert self._process is not None
            if self._process.poll() is not None:
                pytest.fail(f"redis-server exited with {self._process.returncode}", pytrace=False)
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as sock:
                    sock.sendall(b"PING\r\n")
                    # A server with a password answers NOAUTH: up, all the same.
                    if sock.recv(64).startswith((b"+PONG", b"-NOAUTH")):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"redis-server on port {self.port} never answered PING", pytrace=False)
            time.sleep(0.02)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
