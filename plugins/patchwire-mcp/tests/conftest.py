"""Fixtures for the MCP connector's tests: the plugin in an isolated host, hubs that are
always closed, the toolbox test server over stdio and HTTP, and a scratch git repository."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire_mcp.plugin import plugin

TOOLBOX = Path(__file__).parent / "servers" / "toolbox.py"


def _server_module(name: str) -> ModuleType:
    """A module of servers/ (this directory is not a package on sys.path)."""
    spec = importlib.util.spec_from_file_location(
        f"patchwire_mcp_test_{name}", Path(__file__).parent / "servers" / f"{name}.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def jsonrpc() -> ModuleType:
    """servers/jsonrpc.py: a handshake-era HTTP server that records what it is sent."""
    return _server_module("jsonrpc")


def toolbox(*options: str, **table: Any) -> dict[str, Any]:
    """A connector table for the toolbox over stdio, with extra server options and keys."""
    return {
        "type": "mcp",
        "command": sys.executable,
        "args": [str(TOOLBOX), "stdio", *options],
        **table,
    }


@pytest.fixture
def toolbox_table() -> Callable[..., dict[str, Any]]:
    return toolbox


@pytest.fixture
def mcp_host(plugin_host: PluginHost, register_plugin: Any) -> PluginHost:
    register_plugin(plugin, "patchwire-mcp")
    return plugin_host


@pytest.fixture
async def make_hub(mcp_host: PluginHost) -> AsyncIterator[Callable[..., Hub]]:
    """``make_hub({"name": table, ...}, **hub_kwargs)``; every hub made is closed after the test."""
    hubs: list[Hub] = []

    def make(connectors: dict[str, Any], **kwargs: Any) -> Hub:
        hub = Hub.from_dict({"connectors": connectors}, host=mcp_host, **kwargs)
        hubs.append(hub)
        return hub

    yield make
    for hub in hubs:
        await hub.aclose()


class HttpToolbox:
    """The toolbox serving streamable HTTP in a child process on a loopback port."""

    def __init__(self, *options: str) -> None:
        self.options = options
        self.port = 0
        self.process: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def start(self) -> HttpToolbox:
        process = subprocess.Popen(
            [sys.executable, str(TOOLBOX), "http", "--port", str(self.port), *self.options],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("PORT "):
            process.kill()
            raise RuntimeError(f"the HTTP toolbox did not start: {line!r}")
        self.port = int(line.split()[1])
        self.process = process
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            assert self.process.stdout is not None
            self.process.stdout.close()
            self.process = None


@pytest.fixture
def http_toolbox() -> Iterator[Callable[..., HttpToolbox]]:
    started: list[HttpToolbox] = []

    def start(*options: str) -> HttpToolbox:
        server = HttpToolbox(*options).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()

    def git(*args: str) -> None:
        subprocess.run(
            ["git", *args],
            cwd=repo,
            check=True,
            capture_output=True,
            env={
                "GIT_AUTHOR_NAME": "patchwire",
                "GIT_AUTHOR_EMAIL": "patchwire@example.invalid",
                "GIT_COMMITTER_NAME": "patchwire",
                "GIT_COMMITTER_EMAIL": "patchwire@example.invalid",
                "HOME": str(tmp_path),
                "PATH": "/usr/bin:/bin:/usr/local/bin",
            },
        )

    git("init", "-q", "-b", "main")
    (repo / "README.md").write_text("hello\n")
    git("add", "README.md")
    git("commit", "-q", "-m", "first commit")
    (repo / "notes.txt").write_text("untracked\n")
    return repo
