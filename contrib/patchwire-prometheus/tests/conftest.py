"""A real Prometheus server for the tests, started on a free loopback port and stopped after.

No ``prometheus`` on PATH is a failure, not a skip: ``make test`` provisions Debian's
``prometheus`` package, and a silently skipped suite would pass without a scrape.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from patchwire.plugins import PluginHost
from patchwire_openai.plugin import OpenAIPlugin
from patchwire_prometheus.plugin import PrometheusPlugin


@pytest.fixture
def prometheus_host(plugin_host: PluginHost) -> PluginHost:
    """A plugin host with this plugin and, for a wire format to simulate, patchwire-openai."""
    plugin_host.register(PrometheusPlugin(), "prometheus")
    plugin_host.register(OpenAIPlugin(), "openai")
    return plugin_host


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PrometheusServer:
    """One ``prometheus`` process scraping ``target`` (host:port) every ``interval`` seconds."""

    def __init__(self, directory: Path, target: str, interval: float) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = directory / "prometheus.yml"
        # Short intervals so a scrape follows the workload within a second; the data
        # directory is the test's own and is thrown away with it.
        config.write_text(
            "global:\n"
            f"  scrape_interval: {int(interval * 1000)}ms\n"
            f"  scrape_timeout: {int(interval * 1000)}ms\n"
            "scrape_configs:\n"
            "  - job_name: patchwire\n"
            "    metrics_path: /metrics\n"
            "    static_configs:\n"
            f"      - targets: ['{target}']\n"
        )
        program = shutil.which("prometheus")
        if program is None:
            pytest.fail(
                "prometheus is not on PATH: the patchwire-prometheus tests need a real server"
                " (apt-get install prometheus)",
                pytrace=False,
            )
        self._log = (directory / "prometheus.log").open("wb")
        self._process = subprocess.Popen(
            [
                program,
                f"--config.file={config}",
                f"--storage.tsdb.path={directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    async def wait_ready(self, session: aiohttp.ClientSession, timeout: float = 30.0) -> None:
        """Until ``/-/ready`` answers 200 (bounded; the log is shown on failure)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                pytest.fail(f"prometheus exited early:\n{self.log()}", pytrace=False)
            try:
                async with session.get(self.url + "/-/ready") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
        pytest.fail(f"prometheus not ready within {timeout} s:\n{self.log()}", pytrace=False)

    async def query(
        self, session: aiohttp.ClientSession, promql: str, at: float | None = None
    ) -> list[dict[str, Any]]:
        """An instant query's result vector, through the HTTP API, evaluated at ``at``
        (Unix seconds) or now."""
        params = {"query": promql} if at is None else {"query": promql, "time": repr(at)}
        async with session.get(self.url + "/api/v1/query", params=params) as response:
            body = await response.json()
        assert body["status"] == "success", f"{promql}: {body}"
        assert body["data"]["resultType"] == "vector", f"{promql}: {body}"
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def log(self) -> str:
        self._log.flush()
        return (self.directory / "prometheus.log").read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=10)
        self._log.close()


@pytest.fixture
def start_prometheus(tmp_path: Path) -> Iterator[Any]:
    """``start_prometheus(target, interval)``: a running server, stopped after the test."""
    servers: list[PrometheusServer] = []

    def start(target: str, interval: float = 0.25) -> PrometheusServer:
        server = PrometheusServer(tmp_path, target, interval)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
