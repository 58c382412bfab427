"""``[backends.redis]`` against a real server: the password only ever as a reference (the
whole URL, or ``password``), redacted in reprs, errors and logs; mutual TLS from the
configured files; pool size, prefix and per-connector tables reaching the client; a
settlement that fails during an outage reported as an event while the call keeps its
reply.

Integration tests: real redis-server processes on loopback, a hub on the real clock.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from patchwire import Hub
from patchwire.errors import AuthError, ConfigError
from patchwire.events import Event, EventKind
from patchwire.plugins import PluginHost
from patchwire.types import Completion, Usage
from patchwire_redis.cache import RedisCacheBackend
from patchwire_redis.limiter import RedisLimiterBackend
from patchwire_redis.plugin import plugin
from patchwire_redis.testing import RedisServer, free_port

pytestmark = pytest.mark.integration

PASSWORD = "s3cret-redis-pass-42"


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A server that requires a password."""
    with RedisServer.running(
        tmp_path_factory.mktemp("locked"), options=["--requirepass", PASSWORD]
    ) as server:
        yield server


@pytest.fixture
def make_hub(
    plugin_host: PluginHost, register_plugin: Callable[[object, str], object]
) -> Callable[..., Hub]:
    register_plugin(plugin, "patchwire_redis")

    def make(backends: dict[str, Any], hub: Any = None, **connectors: dict[str, Any]) -> Hub:
        config = {"backends": backends, "connectors": connectors or {"fake": CACHED}}
        if hub is not None:
            config["hub"] = hub
        return Hub.from_dict(config, host=plugin_host)

    return make


CACHED = {"cache": {"backend": "redis", "ttl": 60}}


def without_password(server: RedisServer) -> str:
    return server.url


def with_password(server: RedisServer) -> str:
    return f"redis://:{PASSWORD}@127.0.0.1:{server.port}/0"


async def assert_shared(hub: Hub) -> None:
    """The second identical call is served by the Redis cache."""
    model = hub.model("fake:m")
    assert not (await model.complete("q", cache=True)).cached
    assert (await model.complete("q", cache=True)).cached


def assert_nowhere(hub: Hub, caplog: pytest.LogCaptureFixture) -> None:
    runtime = hub.runtime("fake")
    assert runtime.cache is not None
    shown = [repr(runtime.cache._backend), repr(hub), caplog.text]
    for text in shown:
        assert PASSWORD not in text, text


async def test_the_whole_url_as_a_reference(
    locked: RedisServer,
    make_hub: Callable[..., Hub],
    monkeypatch: pytest.MonkeyPatch,
    fake_scripts: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("TEST_REDIS_URL", with_password(locked))
    prefix = f"pw{uuid.uuid4().hex[:10]}"
    caplog.set_level(logging.DEBUG)
    async with make_hub({"redis": {"url": "env:TEST_REDIS_URL", "prefix": prefix}}) as hub:
        await assert_shared(hub)
        backend = hub.runtime("fake").cache._backend  # type: ignore[union-attr]
        assert isinstance(backend, RedisCacheBackend)
        assert backend.name("k").startswith(f"{prefix}:cache:")
        assert_nowhere(hub, caplog)
        # The password alone is masked in log lines too, not only the whole URL.
        assert PASSWORD not in hub.redactor.redact(f"AUTH {PASSWORD}")


async def test_a_separate_password_reference_with_a_file_source(
    locked: RedisServer,
    make_hub: Callable[..., Hub],
    tmp_path: Path,
    fake_scripts: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = tmp_path / "redis_password"
    secret.write_text(PASSWORD + "\n")
    table = {"url": without_password(locked), "password": f"file:{secret}"}
    async with make_hub({"redis": table}) as hub:
        await assert_shared(hub)
        assert_nowhere(hub, caplog)


async def test_a_wrong_password_is_a_miss_logged_without_the_password(
    locked: RedisServer,
    make_hub: Callable[..., Hub],
    monkeypatch: pytest.MonkeyPatch,
    fake_scripts: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    wrong = "not-" + PASSWORD
    monkeypatch.setenv("TEST_REDIS_PASSWORD", wrong)
    table = {"url": without_password(locked), "password": "env:TEST_REDIS_PASSWORD"}
    async with make_hub({"redis": table}) as hub:
        model = hub.model("fake:m")
        for _ in range(2):
            assert not (await model.complete("q", cache=True)).cached
        assert "failed" in caplog.text
        assert wrong not in caplog.text and PASSWORD not in caplog.text


def test_a_password_written_in_the_url_is_refused_at_load_without_echo(
    locked: RedisServer, make_hub: Callable[..., Hub]
) -> None:
    with pytest.raises(ConfigError) as caught:
        make_hub({"redis": {"url": with_password(locked)}})
    assert (caught.value.table, caught.value.key) == ("backends.redis", "url")
    assert "env:REDIS_URL" in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_a_literal_password_is_refused_at_load_without_echo(
    locked: RedisServer, make_hub: Callable[..., Hub]
) -> None:
    with pytest.raises(ConfigError) as caught:
        make_hub({"redis": {"url": locked.url, "password": PASSWORD}})
    assert (caught.value.table, caught.value.key) == ("backends.redis", "password")
    assert PASSWORD not in str(caught.value)


async def test_an_unset_reference_names_the_table_and_key_never_a_value(
    make_hub: Callable[..., Hub], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEST_REDIS_URL_UNSET", raising=False)
    hub = make_hub({"redis": {"url": "env:TEST_REDIS_URL_UNSET"}})
    with pytest.raises(AuthError, match=r"\[backends.redis\] url.*TEST_REDIS_URL_UNSET"):
        hub.runtime("fake")
    await hub.aclose()


@pytest.mark.parametrize(
    ("table", "key", "says"),
    [
        ({"prefix": "a{b}"}, "prefix", "without braces"),
        ({"time_source": "sundial"}, "time_source", "'server' or 'caller'"),
        ({"max_connections": 0}, "max_connections", ">= 1"),
        ({"url": "http://127.0.0.1:1/"}, "url", "not a Redis URL"),
        ({"tls": "yes"}, "tls", "expected bool"),
        ({"pool_size": 3}, "pool_size", "unknown key"),
    ],
)
async def test_bad_settings_name_the_table_and_key(
    make_hub: Callable[..., Hub], table: dict[str, Any], key: str, says: str
) -> None:
    connector = {**CACHED, "limiter_backend": "redis", "limits": {"requests_per_second": 1}}
    with pytest.raises(ConfigError) as caught:
        hub = make_hub({"redis": table}, fake=connector)
        try:
            hub.runtime("fake")
        finally:
            await hub.aclose()
    assert "backends.redis" in str(caught.value)
    assert key in str(caught.value) and says in str(caught.value)


async def test_pool_size_timeout_and_per_connector_tables_reach_the_clients(
    redis_server: RedisServer, make_hub: Callable[..., Hub], fake_scripts: Any
) -> None:
    limited = {"limits": {"requests_per_second": 50}}
    backends = {
        "redis": {"url": redis_server.url, "prefix": "one", "max_connections": 3},
        "other": {"type": "redis", "url": redis_server.url, "prefix": "two", "socket_timeout": 5},
    }
    async with make_hub(
        backends,
        a={"type": "fake", **limited, **CACHED, "limiter_backend": "redis"},
        b={"type": "fake", **limited, "limiter_backend": "other", "cache": {"ttl": 0}},
    ) as hub:
        a, b = hub.runtime("a"), hub.runtime("b")
        la, lb = a._limiter_backend, b._limiter_backend
        assert isinstance(la, RedisLimiterBackend) and isinstance(lb, RedisLimiterBackend)
        assert la._client.connection_pool.max_connections == 3
        assert lb._client.connection_pool.connection_kwargs["socket_timeout"] == 5
        assert la.keys("k", [])[:0] == [] and la._prefix == "one" and lb._prefix == "two"
        await hub.model("a:m").complete("q")
        await hub.model("b:m").complete("q")
        names = {k.decode() async for k in la._client.scan_iter(match="one:limit:*")}
        assert names and all("{a}" in n for n in names)
        names = {k.decode() async for k in lb._client.scan_iter(match="two:limit:*")}
        assert names and all("{b}" in n for n in names)


async def test_a_settlement_lost_to_an_outage_is_an_event_and_the_reply_stands(
    own_redis: Callable[[], RedisServer], make_hub: Callable[..., Hub], fake_scripts: Any
) -> None:
    """Admitted while Redis answers; Redis dies while the provider works; the reply comes
    back, and the failed settlement of its tokens reaches the sinks as a classified
    ``limiter_settle_failed`` event instead of being logged and swallowed."""
    server = own_redis()
    connector = {
        "limiter_backend": "redis",
        "limits": {"requests_per_second": 50, "tokens_per_minute": 100_000},
        "retry": {"max_attempts": 1},
        "cache": {"ttl": 0},
    }
    events: list[Event] = []

    def answer_after_redis_dies(request: Any, attempt: Any) -> Completion:
        server.kill()
        return Completion("done", Usage(input_tokens=900, output_tokens=900))

    async with make_hub({"redis": {"url": server.url}}, fake=connector) as hub:
        hub.bus.add("test", events.append)
        hub.runtime("fake")  # creates the connector's script
        fake_scripts["fake"].push(answer_after_redis_dies)
        reply = await hub.model("fake:m").complete("q")
        assert reply.text == "done"
    failed = [e for e in events if e.kind is EventKind.LIMITER_SETTLE_FAILED]
    assert len(failed) == 1
    assert failed[0].category == "transient" and "shared rate limiter" in (failed[0].message or "")
    assert [e.kind for e in events if e.kind is EventKind.CALL_SUCCEEDED]


def test_the_readme_configuration_loads(make_hub: Callable[..., Hub]) -> None:
    """Every TOML block of the README, merged, is a configuration the loader accepts (its
    connectors stood in for by the fake, whose tables take the same common keys)."""
    import re
    import tomllib

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    blocks = re.findall(r"```toml\n(.*?)```", readme, re.DOTALL)
    assert len(blocks) >= 2
    merged: dict[str, Any] = {}
    for block in blocks:
        for table, body in tomllib.loads(block).items():
            merged.setdefault(table, {}).update(body)
    connectors = {
        name: {k: v for k, v in body.items() if k != "api_key"} | {"type": "fake"}
        for name, body in merged.pop("connectors").items()
    }
    hub = make_hub(merged.pop("backends"), merged.pop("hub"), **connectors)
    assert set(hub.config.backends) == {"redis", "eu"}
    assert hub.config.limiter_backend == "redis"
    assert hub.config.connectors["mistral"].limiter_backend == "eu"


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RedisServer, Any]]:
    """A server whose TLS port asks for a client certificate from the test CA; its plain
    port only serves the start-up PING."""
    folder = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    server_cert = ca.issue_cert("127.0.0.1")
    client_cert = ca.issue_cert("patchwire-client")
    paths = {
        "ca": folder / "ca.pem",
        "server": folder / "server.pem",
        "client": folder / "client.pem",
    }
    ca.cert_pem.write_to_path(str(paths["ca"]))
    server_cert.private_key_and_cert_chain_pem.write_to_path(str(paths["server"]))
    client_cert.private_key_and_cert_chain_pem.write_to_path(str(paths["client"]))
    tls_port = free_port()
    options = ["--tls-port", str(tls_port), "--tls-cert-file", str(paths["server"])]
    options += ["--tls-key-file", str(paths["server"]), "--tls-ca-cert-file", str(paths["ca"])]
    with RedisServer.running(folder, options=options) as server:
        yield server, (tls_port, paths)


async def test_mutual_tls_with_the_configured_files(
    tls_redis: tuple[RedisServer, Any],
    make_hub: Callable[..., Hub],
    fake_scripts: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, (port, paths) = tls_redis
    tls = {"url": f"rediss://127.0.0.1:{port}/0", "tls_ca_file": str(paths["ca"])}
    client = {"tls_cert_file": str(paths["client"]), "tls_key_file": str(paths["client"])}
    async with make_hub({"redis": {**tls, **client}}) as hub:
        await assert_shared(hub)
    # Without the client certificate the server refuses the connection: a miss, logged.
    async with make_hub({"redis": tls}) as hub:
        model = hub.model("fake:m")
        for _ in range(2):
            assert not (await model.complete("q", cache=True)).cached
    assert "failed" in caplog.text


def test_doctor_checks_backend_references_without_showing_them(
    locked: RedisServer, tmp_path: Path
) -> None:
    """``patchwire doctor`` as a user runs it (a subprocess with the installed plugins)."""
    import os
    import subprocess
    import sys

    config = tmp_path / "patchwire.toml"
    config.write_text(
        '[backends.redis]\nurl = "env:TEST_REDIS_URL"\n\n'
        '[backends.eu]\ntype = "redis"\npassword = "env:TEST_REDIS_MISSING"\n'
    )
    env = {k: v for k, v in os.environ.items() if k != "TEST_REDIS_MISSING"}
    env["TEST_REDIS_URL"] = with_password(locked)
    for extra in ([], ["--json"]):
        out = subprocess.run(
            [sys.executable, "-m", "patchwire.cli.main", "doctor", "--config", str(config), *extra],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert PASSWORD not in out.stdout + out.stderr
        assert out.returncode == 1, out.stderr
    report = json.loads(out.stdout)
    assert report["backends"]["redis"] == {
        "type": "redis",
        "credentials": {"env:TEST_REDIS_URL": "found"},
    }
    missing = report["backends"]["eu"]["credentials"]["env:TEST_REDIS_MISSING"]
    assert missing.startswith("missing") and "TEST_REDIS_MISSING is not set" in missing
