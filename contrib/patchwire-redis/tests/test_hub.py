"""The plugin inside a hub: found through its entry point, selected by configuration, and
a Redis outage seen by callers as the documented outcomes (cache: a miss; limiter: a
transient error)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from patchwire import Hub
from patchwire.backends import BackendConfig, BackendTable, call_factory
from patchwire.clock import VirtualClock
from patchwire.errors import TransientError
from patchwire.plugins import PluginHost
from patchwire.redact import Redactor
from patchwire.secrets import SecretResolver
from patchwire_redis.cache import RedisCacheBackend
from patchwire_redis.limiter import RedisLimiterBackend
from patchwire_redis.plugin import plugin


def test_the_entry_point_registers_both_backends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATCHWIRE_LOAD_PLUGINS", "patchwire-redis")
    registries = PluginHost().registries
    secrets = SecretResolver({}, VirtualClock(), Redactor())
    table = BackendTable(BackendConfig("redis", "redis", {"prefix": "p"}), secrets)
    limiter = call_factory(registries.limiter_backends["redis"], clock=None, table=table)
    assert isinstance(limiter, RedisLimiterBackend)
    cache = call_factory(
        registries.cache_backends["redis"], clock=None, table=table, default_ttl=5.0
    )
    assert isinstance(cache, RedisCacheBackend)


def hub(
    host: PluginHost,
    register_plugin: Callable[[object, str], object],
    url: str,
    prefix: str,
    connector: dict[str, Any],
    **extra: Any,
) -> Hub:
    register_plugin(plugin, "patchwire_redis")
    config = {
        "backends": {"redis": {"url": url, "prefix": prefix}},
        "connectors": {"fake": connector},
        **extra,
    }
    return Hub.from_dict(config, host=host)


@pytest.mark.integration
async def test_calls_go_on_while_the_shared_cache_is_down(
    plugin_host: PluginHost,
    register_plugin: Callable[[object, str], object],
    own_redis: Callable[[], Any],
    prefix: str,
    fake_scripts: dict[str, Any],
) -> None:
    """Real clock: the hub talks to a real server, and a virtual clock would jump past the
    attempt's timeout while every task waits on the socket."""
    server = own_redis()
    config = {"cache": {"backend": "redis", "ttl": 60}}
    async with hub(plugin_host, register_plugin, server.url, prefix, config) as h:
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
    async with hub(plugin_host, register_plugin, server.url, prefix, config) as h:
        model = h.model("fake:m")
        assert (await model.complete("q")).text == "echo: q"
        server.kill()
        with pytest.raises(TransientError, match="shared rate limiter"):
            await model.complete("q")
        assert len(fake_scripts["fake"].calls) == 1
