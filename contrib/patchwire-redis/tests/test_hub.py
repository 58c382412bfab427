"""The plugin inside a hub: found through its entry point, selected by configuration, and
a Redis outage seen by callers as the documented outcomes (cache: a miss; limiter: a
transient error)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from patchwire import Hub
from patchwire.errors import ConfigError, TransientError
from patchwire.plugins import PluginHost
from patchwire_redis.cache import RedisCacheBackend
from patchwire_redis.connection import DEFAULT_URL, env_prefix, env_url
from patchwire_redis.limiter import RedisLimiterBackend
from patchwire_redis.plugin import plugin


def test_the_entry_point_registers_both_backends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATCHWIRE_LOAD_PLUGINS", "patchwire-redis")
    registries = PluginHost().registries
    assert isinstance(registries.limiter_backends["redis"](clock=None), RedisLimiterBackend)
    cache = registries.cache_backends["redis"](clock=None, max_entries=10, default_ttl=5.0)
    assert isinstance(cache, RedisCacheBackend)


def test_the_server_and_prefix_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PATCHWIRE_REDIS_URL", raising=False)
    monkeypatch.delenv("PATCHWIRE_REDIS_PREFIX", raising=False)
    assert (env_url(), env_prefix()) == (DEFAULT_URL, "patchwire")
    monkeypatch.setenv("PATCHWIRE_REDIS_URL", "redis://:hunter2@cache.internal:6380/3")
    monkeypatch.setenv("PATCHWIRE_REDIS_PREFIX", "staging")
    assert (env_url(), env_prefix()) == ("redis://:hunter2@cache.internal:6380/3", "staging")
    assert "hunter2" not in repr(RedisLimiterBackend(env_url()))
    monkeypatch.setenv("PATCHWIRE_REDIS_PREFIX", "a{b}")
    with pytest.raises(ConfigError, match="PATCHWIRE_REDIS_PREFIX"):
        env_prefix()
    with pytest.raises(ConfigError, match="not a Redis URL"):
        RedisLimiterBackend("http://:hunter2@cache.internal")


def hub(
    host: PluginHost,
    register_plugin: Callable[[object, str], object],
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    prefix: str,
    connector: dict[str, Any],
) -> Hub:
    monkeypatch.setenv("PATCHWIRE_REDIS_URL", url)
    monkeypatch.setenv("PATCHWIRE_REDIS_PREFIX", prefix)
    register_plugin(plugin, "patchwire_redis")
    return Hub.from_dict({"connectors": {"fake": connector}}, host=host)


@pytest.mark.integration
async def test_calls_go_on_while_the_shared_cache_is_down(
    plugin_host: PluginHost,
    register_plugin: Callable[[object, str], object],
    monkeypatch: pytest.MonkeyPatch,
    own_redis: Callable[[], Any],
    prefix: str,
    fake_scripts: dict[str, Any],
) -> None:
    """Real clock: the hub talks to a real server, and a virtual clock would jump past the
    attempt's timeout while every task waits on the socket."""
    server = own_redis()
    config = {"cache": {"backend": "redis", "ttl": 60}}
    async with hub(plugin_host, register_plugin, monkeypatch, server.url, prefix, config) as h:
        model = h.model("fake:m")
        assert not (await model.complete("q", cache=True)).cached
        assert (await model.complete("q", cache=True)).cached
        server.kill()
        for _ in range(2):
            reply = await model.complete("q", cache=True)
            assert (reply.text, reply.cached) == ("echo: q", False)
        assert len(fake_scripts["fake"].calls) == 3


@pytest.mark.integration
async def test_an_unreachable_shared_limiter_fails_the_call_as_transient(
    plugin_host: PluginHost,
    register_plugin: Callable[[object, str], object],
    monkeypatch: pytest.MonkeyPatch,
    own_redis: Callable[[], Any],
    prefix: str,
    fake_scripts: dict[str, Any],
) -> None:
    """Real clock, as above. An admission is never guessed: no call reaches the provider."""
    server = own_redis()
    config = {
        "limiter_backend": "redis",
        "limits": {"requests_per_second": 5},
        "retry": {"max_attempts": 1},
    }
    async with hub(plugin_host, register_plugin, monkeypatch, server.url, prefix, config) as h:
        model = h.model("fake:m")
        assert (await model.complete("q")).text == "echo: q"
        server.kill()
        with pytest.raises(TransientError, match="shared rate limiter"):
            await model.complete("q")
        assert len(fake_scripts["fake"].calls) == 1
