"""Per-principal budgets and tokens shared through a real Redis server.

Integration: a ``redis-server`` started here on loopback (no server installed is a
failure: CI installs ``redis-server``), and, for budgets, two OS processes each running a
hub; their clocks are virtual, started at the same instant and moved together, so window
turns are exact without waiting.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from patchwire import Hub
from patchwire.auth.tokenstore import StoredToken
from patchwire.clock import VirtualClock
from patchwire.plugins import PluginHost
from patchwire.secrets import Secret
from patchwire.testing.fake import FakePlugin
from patchwire_redis.plugin import plugin
from patchwire_redis.testing import RedisServer

pytestmark = pytest.mark.integration

WORKER = Path(__file__).with_name("budget_worker.py")
LIMIT = 7  # requests_per_minute in budget_worker.py


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with RedisServer.running(tmp_path_factory.mktemp("redis")) as server:
        yield server


def _worker(url: str, prefix: str, start: float, calls: int) -> subprocess.Popen[str]:
    env = dict(os.environ, TEST_REDIS_URL=url, TEST_REDIS_PREFIX=prefix, PYTHONPATH=os.getcwd())
    return subprocess.Popen(
        [sys.executable, str(WORKER), repr(start), str(calls)],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _say(process: subprocess.Popen[str], line: str) -> None:
    assert process.stdin is not None
    process.stdin.write(line + "\n")
    process.stdin.flush()


def _hear(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if not line:
        process.kill()
        raise AssertionError(process.communicate()[1])
    return line


def test_a_budget_stops_a_principal_exactly_across_two_processes_and_resets(
    redis_server: RedisServer,
) -> None:
    prefix = f"pw{uuid.uuid4().hex[:10]}"
    start = 60.0 * 1000 + 5  # five seconds into a minute
    workers = [_worker(redis_server.url, prefix, start, 10) for _ in range(2)]
    try:
        for w in workers:
            assert _hear(w) == "ready"
        rounds: list[list[dict[str, Any]]] = []
        for _ in range(2):
            for w in workers:
                _say(w, "go")  # both call concurrently: 20 calls for alice
            rounds.append([json.loads(_hear(w)) for w in workers])
            for w in workers:
                _say(w, "advance 60")  # the next minute
                assert _hear(w) == "advanced"
    finally:
        for w in workers:
            if w.stdin:
                w.stdin.close()
            w.wait(timeout=30)
    for outcome in rounds:
        assert all(o["other"] == [] for o in outcome), outcome
        assert sum(o["admitted"] for o in outcome) == LIMIT  # exactly, not twice
        assert sum(o["refused"] for o in outcome) == 20 - LIMIT


def _hub(url: str, prefix: str, key_env: str) -> Hub:
    host = PluginHost(load_entry_points=False)
    host.register(FakePlugin(), "patchwire.testing.fake", distribution="patchwire")
    host.register(plugin, "patchwire_redis")
    return Hub.from_dict(
        {
            "backends": {"redis": {"url": url, "prefix": prefix}},
            "principals": {"token_store": "redis", "token_key": f"env:{key_env}"},
        },
        host=host,
        clock=VirtualClock(autojump=False),
    )


async def test_tokens_are_encrypted_at_rest_and_bound_to_their_principal(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from redis.asyncio import Redis

    prefix = f"pw{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("PW_TEST_TOKEN_KEY", base64.b64encode(os.urandom(32)).decode())
    monkeypatch.setenv("PW_TEST_OTHER_KEY", base64.b64encode(os.urandom(32)).decode())
    token = StoredToken(Secret("alice-access-0123456789"), Secret("alice-refresh-987654"), 99.0)
    async with (
        _hub(redis_server.url, prefix, "PW_TEST_TOKEN_KEY") as one,
        _hub(redis_server.url, prefix, "PW_TEST_TOKEN_KEY") as other,
    ):
        await one.token_store().save("github:alice", token)
        # Another hub (another process, in production) reads the same entry.
        assert await other.token_store().load("github:alice") == token
        raw = Redis.from_url(redis_server.url)
        try:
            sealed = await raw.get(f"{prefix}:token:github:alice")
            assert sealed and b"alice-access" not in sealed and b"alice-refresh" not in sealed
            # Whoever can write to Redis moves alice's entry under bob's key: it does not open.
            await raw.set(f"{prefix}:token:github:bob", sealed)
        finally:
            await raw.aclose()
        assert await other.token_store().load("github:bob") is None
    async with _hub(redis_server.url, prefix, "PW_TEST_OTHER_KEY") as wrong:
        assert await wrong.token_store().load("github:alice") is None  # another key: no token
    assert "alice-access" not in repr(token)


async def test_a_token_key_that_is_not_32_bytes_is_a_config_error(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from patchwire import ConfigError

    short = base64.b64encode(b"short-key").decode()
    monkeypatch.setenv("PW_TEST_TOKEN_KEY", short)
    async with _hub(redis_server.url, "pwbad", "PW_TEST_TOKEN_KEY") as hub:
        with pytest.raises(ConfigError, match="32 random bytes") as caught:
            hub.token_store()
    assert short not in str(caught.value)
