"""A real Redis server for the tests: started here on a free loopback port, never persisted.

No Redis server installed is a failure, not a skip: CI installs ``redis-server``, and a
silently skipped suite would pass without ever testing the scripts.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


class RedisServer:
    """One ``redis-server`` process in ``directory`` on 127.0.0.1:``port``."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory
        self.port = port if port is not None else _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

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
                    if sock.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"redis-server on port {self.port} never answered PING", pytrace=False)
            time.sleep(0.02)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """The server most tests share; each test keeps to its own key prefix."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.kill()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url


@pytest.fixture
def prefix() -> str:
    """A key prefix no other test uses, so tests sharing the server never meet."""
    return f"pwtest{uuid.uuid4().hex[:12]}"


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[Callable[[], RedisServer]]:
    """Start a server this test alone uses (and may kill); every one is stopped after."""
    servers: list[RedisServer] = []

    def start() -> RedisServer:
        server = RedisServer(tmp_path / f"redis{len(servers)}")
        server.directory.mkdir()
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.kill()
