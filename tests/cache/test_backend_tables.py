"""``[backends.NAME]`` tables: factories receive their table, selection per hub and per
connector, load-time errors naming the table and key, credentials only as references.

A recording backend type stands in for a shared store, so these run on core alone; the
Redis distribution's own tests run the same configuration against a real server.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest
from patchwire import Hub
from patchwire.backends import BackendTable, call_factory
from patchwire.cache import MemoryCacheBackend
from patchwire.connector import Setting
from patchwire.errors import ConfigError
from patchwire.hookspecs import hookimpl
from patchwire.limiter import MemoryBackend
from patchwire.plugins import PluginHost
from patchwire.registry import BackendRegistrar

PASSWORD = "hunter2-backend-secret"


class Recorded:
    def __init__(self, kind: str, table: BackendTable, offered: Mapping[str, Any]) -> None:
        self.kind = kind
        self.table = table
        self.offered = dict(offered)
        self.url = table.resolve("url")
        self.password = table.resolve("password")


class RecordingLimiter(MemoryBackend):
    def __init__(self, record: Recorded) -> None:
        super().__init__()
        self.record = record


class RecordingCache(MemoryCacheBackend):
    def __init__(self, record: Recorded, clock: Any) -> None:
        super().__init__(clock)
        self.record = record


class Factory:
    settings: Mapping[str, Setting] = {
        "url": Setting((str,), None),
        "password": Setting((str,), None, secret=True),
        "pool": Setting((int,), 4),
    }

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __call__(self, *, table: BackendTable, clock: Any, **offered: Any) -> Any:
        record = Recorded(self.kind, table, offered)
        if self.kind == "limiter":
            return RecordingLimiter(record)
        return RecordingCache(record, clock)


class StorePlugin:
    @hookimpl
    def patchwire_register_backends(self, register: BackendRegistrar) -> None:
        register.limiter("store", Factory("limiter"))
        register.cache("store", Factory("cache"))


@pytest.fixture
def make_hub(
    plugin_host: PluginHost, register_plugin: Callable[[object, str], object]
) -> Callable[[dict[str, Any]], Hub]:
    register_plugin(StorePlugin(), "store_plugin")

    def make(config: dict[str, Any]) -> Hub:
        return Hub.from_dict(config, host=plugin_host)

    return make


LIMITED = {"limits": {"requests_per_second": 5}}


def test_a_factory_receives_its_table_with_references_resolved(
    make_hub: Callable[[dict[str, Any]], Hub], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STORE_URL", f"store://:{PASSWORD}@127.0.0.1:1/0")
    monkeypatch.setenv("STORE_PASSWORD", PASSWORD)
    hub = make_hub(
        {
            "backends": {
                "store": {"url": "env:STORE_URL", "password": "env:STORE_PASSWORD", "pool": 7}
            },
            "connectors": {
                "fake": {**LIMITED, "limiter_backend": "store", "cache": {"backend": "store"}}
            },
        }
    )
    runtime = hub.runtime("fake")
    cache = runtime.cache._backend  # type: ignore[union-attr]
    assert isinstance(cache, RecordingCache)
    record = cache.record
    assert (record.url, record.password) == (f"store://:{PASSWORD}@127.0.0.1:1/0", PASSWORD)
    assert record.table.integer("pool", 4, minimum=1) == 7
    assert record.table.where.table == "backends.store"
    assert record.offered["connector"] == "fake"
    assert record.offered["default_ttl"] == 3600.0
    limiter = runtime._limiter_backend
    assert isinstance(limiter, RecordingLimiter)
    # Resolved values are masked like any loaded secret, and the table's repr shows keys only.
    assert PASSWORD not in hub.redactor.redact(f"connect failed: {record.url}")
    assert PASSWORD not in repr(record.table)


def test_the_hub_chooses_for_connectors_that_do_not(
    make_hub: Callable[[dict[str, Any]], Hub],
) -> None:
    hub = make_hub(
        {
            "backends": {"store": {}},
            "hub": {"limiter_backend": "store", "cache_backend": "store"},
            "connectors": {
                "fake": LIMITED,
                "mem": {"type": "fake", **LIMITED, "limiter_backend": "memory"},
            },
        }
    )
    fake, mem = hub.runtime("fake"), hub.runtime("mem")
    assert isinstance(fake._limiter_backend, RecordingLimiter)
    assert isinstance(fake.cache._backend, RecordingCache)  # type: ignore[union-attr]
    assert type(mem._limiter_backend) is MemoryBackend
    assert isinstance(mem.cache._backend, RecordingCache)  # type: ignore[union-attr]


def test_two_tables_of_one_type_serve_different_connectors(
    make_hub: Callable[[dict[str, Any]], Hub],
) -> None:
    hub = make_hub(
        {
            "backends": {
                "east": {"type": "store", "url": "store://east"},
                "west": {"type": "store", "url": "store://west"},
            },
            "connectors": {
                "a": {"type": "fake", **LIMITED, "limiter_backend": "east"},
                "b": {"type": "fake", **LIMITED, "limiter_backend": "west"},
            },
        }
    )
    urls = [hub.runtime(n)._limiter_backend.record.url for n in ("a", "b")]  # type: ignore[union-attr]
    assert urls == ["store://east", "store://west"]


def test_without_any_table_connectors_use_memory(
    make_hub: Callable[[dict[str, Any]], Hub],
) -> None:
    runtime = make_hub({"connectors": {"fake": LIMITED}}).runtime("fake")
    assert type(runtime._limiter_backend) is MemoryBackend
    assert type(runtime.cache._backend) is MemoryCacheBackend  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("config", "table", "key", "says"),
    [
        (
            {"backends": {"store": {"password": PASSWORD}}},
            "backends.store",
            "password",
            "not a reference",
        ),
        (
            {"backends": {"store": {"url": f"store://user:{PASSWORD}@host:1/0"}}},
            "backends.store",
            "url",
            "carries a password",
        ),
        (
            {"backends": {"store": {"poool": 3}}},
            "backends.store",
            "poool",
            "did you mean 'pool'",
        ),
        (
            {"backends": {"store": {"pool": "seven"}}},
            "backends.store",
            "pool",
            "expected int",
        ),
        ({"backends": {"redis2": {}}}, "backends.redis2", "type", "unknown backend type"),
        ({"backends": {"store": "redis://"}}, "backends.store", None, "expected a table"),
        (
            {"connectors": {"fake": {"limiter_backend": "nowhere"}}},
            "connectors.fake",
            "limiter_backend",
            "unknown limiter backend 'nowhere'",
        ),
        (
            {"connectors": {"fake": {"cache": {"backend": "nowhere"}}}},
            "connectors.fake.cache",
            "backend",
            "unknown cache backend 'nowhere'",
        ),
        ({"hub": {"cache_backend": "nowhere"}}, "hub", "cache_backend", "no [backends.nowhere]"),
        ({"hub": {"limiter_backend": 3}}, "hub", "limiter_backend", "expected a string"),
    ],
    ids=[
        "literal-password",
        "password-in-url",
        "unknown-key",
        "wrong-type",
        "unknown-type",
        "not-a-table",
        "connector-limiter",
        "connector-cache",
        "hub-cache",
        "hub-type",
    ],
)
def test_mistakes_fail_at_load_naming_table_and_key_never_the_value(
    make_hub: Callable[[dict[str, Any]], Hub],
    config: dict[str, Any],
    table: str,
    key: str | None,
    says: str,
) -> None:
    with pytest.raises(ConfigError) as caught:
        make_hub(config)
    error = caught.value
    assert (error.table, error.key) == (table, key)
    assert says in str(error)
    assert PASSWORD not in str(error) and PASSWORD not in repr(error)


def test_a_table_can_name_its_type_only_once_installed(
    plugin_host: PluginHost,
) -> None:
    """Without the plugin, a [backends.store] table is refused at load (the install hint)."""
    with pytest.raises(ConfigError, match="pip install patchwire-store"):
        Hub.from_dict({"backends": {"store": {}}}, host=plugin_host)


def test_factories_get_only_the_keywords_they_take() -> None:
    """Old factories keep working: keywords only ever grow, each takes the subset it names."""
    seen: list[dict[str, Any]] = []

    def old(clock: object) -> str:
        seen.append({"clock": clock})
        return "old"

    def new(**kwargs: Any) -> str:
        seen.append(kwargs)
        return "new"

    assert call_factory(old, clock=1, table=2, connector="c") == "old"
    assert call_factory(new, clock=1, table=2, connector="c") == "new"
    assert seen == [{"clock": 1}, {"clock": 1, "table": 2, "connector": "c"}]
