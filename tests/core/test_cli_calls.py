"""`patchwire call`, `embed` and `stats` as a user runs them, against `patchwire simulate`
in another process (integration: real processes and sockets)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
KEY = "sk-cli-call-test-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def simulator() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "patchwire.cli.main",
            "simulate",
            "openai",
            "--port",
            str(port),
            "--duration",
            "120",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    root = f"http://127.0.0.1:{port}"
    # A deadline rather than a number of tries: a loaded machine can take many seconds to
    # start the CLI, and a test that went on before it answered would fail for no reason.
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{root}/stats", timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("the simulator CLI did not start", pytrace=False)
            time.sleep(0.05)
    yield f"{root}/v1"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def config(tmp_path: Path, simulator: str) -> Path:
    path = tmp_path / "patchwire.toml"
    path.write_text(
        f'[connectors.sim]\ntype = "openai"\nbase_url = "{simulator}"\napi_key = "env:CLI_CALL_KEY"\n'
    )
    return path


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, CLI_CALL_KEY=KEY)
    return subprocess.run(
        [sys.executable, "-m", "patchwire.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_call_streams_and_json(config: Path) -> None:
    streamed = run("call", "sim:gpt-4o-mini", "hello there", "--config", str(config))
    assert streamed.returncode == 0, streamed.stderr
    assert "hello there" in streamed.stdout
    data = json.loads(
        run("call", "sim:gpt-4o-mini", "hello there", "--config", str(config), "--json").stdout
    )
    assert data["connector"] == "sim" and data["input_tokens"] > 0 and data["attempts"] == 1
    assert data["cost"] is not None and data["request_id"]
    assert KEY not in streamed.stdout + streamed.stderr


def test_embed_prints_vectors(config: Path) -> None:
    out = run(
        "embed", "sim:text-embedding-3-small", "alpha", "beta", "--config", str(config), "--json"
    )
    assert out.returncode == 0, out.stderr
    vectors = json.loads(out.stdout)
    assert [v["text"] for v in vectors] == ["alpha", "beta"] and len(vectors[0]["vector"]) > 8


def test_unknown_model_route_is_a_clear_error(config: Path) -> None:
    out = run("call", "nope", "hi", "--config", str(config))
    assert out.returncode == 2 and 'neither "connector:model" nor a configured route' in out.stderr


async def test_stats_reads_a_running_hubs_metrics(
    simulator: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from patchwire.hub import Hub

    monkeypatch.setenv("CLI_CALL_KEY", KEY)
    hub = Hub.from_dict(
        {
            "connectors": {
                "sim": {"type": "openai", "base_url": simulator, "api_key": "env:CLI_CALL_KEY"}
            }
        }
    )
    async with hub:
        await hub.model("sim:gpt-4o-mini").complete("measure me")
        server = await hub.serve_metrics(port=0)
        out = await asyncio.to_thread(run, "stats", "--url", server.url, "--json")
        table = await asyncio.to_thread(run, "stats", "--url", server.url)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)["connectors"]
    assert any(r["connector"] == "sim" and r["succeeded"] == 1 for r in rows)
    assert "sim:gpt-4o-mini" in table.stdout
