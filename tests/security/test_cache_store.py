"""Attack: code or foreign objects planted in a shared cache store (issue 13, item 2).

Whoever can write to the Redis server a hub caches in chooses the bytes every reading
process decodes. These tests write the attacker's bytes straight into a real
``redis-server`` (started here on loopback), at the key a hub reads its cached reply
from, and check that each is a miss that runs nothing: the call goes upstream, the
planted entry is counted, logged and replaced, and the caller never sees an error.

Integration tests: a real Redis server, and a hub on the real clock talking to it.
"""

from __future__ import annotations

import json
import pathlib
import pickle
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from patchwire import Hub
from patchwire.cache_codec import FORMAT, encode
from patchwire.plugins import PluginHost
from patchwire.testing.fake import FakeConnector
from patchwire.types import Completion, ToolResult, Usage
from patchwire_redis.cache import RedisCacheBackend
from patchwire_redis.plugin import plugin
from patchwire_redis.testing import RedisServer

pytestmark = pytest.mark.integration


class _WritesMarker:
    """Unpickling this calls ``Path.write_text(marker, "pwned")``: code run by a reader."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (pathlib.Path.write_text, (self.marker, "pwned"))


def crafted_pickle(marker: Path) -> bytes:
    return pickle.dumps(_WritesMarker(marker))


def ran(marker: Path) -> bool:
    return marker.exists()


def test_the_crafted_pickle_does_run_code_when_unpickled(tmp_path: Path) -> None:
    """The payload is real: plain pickle.loads writes the marker (so the tests below,
    which find no marker, would fail against a pickling backend)."""
    marker = tmp_path / "proof"
    pickle.loads(crafted_pickle(marker))
    assert marker.read_text() == "pwned"


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with RedisServer.running(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
async def hub(
    redis: RedisServer, plugin_host: PluginHost, register_plugin: Any
) -> AsyncIterator[Hub]:
    register_plugin(plugin, "patchwire_redis")
    prefix = f"pwsec{uuid.uuid4().hex[:12]}"  # each test its own keys
    config = {
        "backends": {"redis": {"url": redis.url, "prefix": prefix}},
        "hub": {"cache_backend": "redis"},
        "connectors": {"fake": {"cache": {"ttl": 60}}},
    }
    async with Hub.from_dict(config, host=plugin_host) as h:
        yield h


def backend_of(hub: Hub) -> RedisCacheBackend:
    cache = hub.runtime("fake").cache
    assert cache is not None
    backend = cache._backend
    assert isinstance(backend, RedisCacheBackend)
    return backend


async def planted_key(hub: Hub) -> str:
    """Ask once so the reply is cached, and return the Redis key it was cached under."""
    model = hub.model("fake:m")
    assert not (await model.complete("q", cache=True)).cached
    assert (await model.complete("q", cache=True)).cached
    backend = backend_of(hub)
    keys = [k async for k in backend._client.scan_iter(match=backend.name("*"))]
    assert len(keys) == 1
    return str(keys[0].decode())


async def assert_a_miss_that_ran_nothing(hub: Hub, key: str, marker: Path | None) -> None:
    backend = backend_of(hub)
    upstream = len(FakeConnector.scripts["fake"].calls)
    reply = await hub.model("fake:m").complete("q", cache=True)
    assert (reply.text, reply.cached) == ("echo: q", False)
    assert len(FakeConnector.scripts["fake"].calls) == upstream + 1
    assert backend.refused == 1
    if marker is not None:
        assert not ran(marker), "the planted pickle ran"
    # The planted entry is gone, replaced by the reply just computed.
    stored = await backend._client.get(key)
    assert isinstance(stored, bytes) and stored.startswith(FORMAT)
    assert (await hub.model("fake:m").complete("q", cache=True)).cached


async def test_a_crafted_pickle_in_the_store_is_a_miss_and_runs_nothing(
    hub: Hub, tmp_path: Path, fake_scripts: Any, caplog: pytest.LogCaptureFixture
) -> None:
    key = await planted_key(hub)
    marker = tmp_path / "pwned"
    await backend_of(hub)._client.set(key, crafted_pickle(marker), px=60_000)
    await assert_a_miss_that_ran_nothing(hub, key, marker)
    assert "refused and dropped" in caplog.text


async def test_a_pickle_behind_the_format_marker_is_a_miss_and_runs_nothing(
    hub: Hub, tmp_path: Path, fake_scripts: Any
) -> None:
    key = await planted_key(hub)
    marker = tmp_path / "pwned"
    await backend_of(hub)._client.set(key, FORMAT + crafted_pickle(marker), px=60_000)
    await assert_a_miss_that_ran_nothing(hub, key, marker)


@pytest.mark.parametrize(
    "entry",
    [
        # a class outside the allowlist, named the way a pickle would name it
        {"$": "posix.system", "v": "touch /tmp/pwned"},
        {"$": "patchwire.secrets.Secret", "v": "x"},
        # a real patchwire class that is not a cached value type
        {"$": "HubConfig", "connectors": {}},
        {"$": "tuple", "v": [{"$": "PluginHost"}, 0, 1]},
        # an allowlisted class with a field it does not have, or of the wrong type
        {"$": "tuple", "v": [{"$": "Completion", "text": "x", "__reduce__": 1}, 0, 1]},
        {"$": "tuple", "v": [{"$": "Completion", "text": ["not", "text"]}, 0, 1]},
    ],
    ids=["module-path", "secret", "hub-config", "plugin-host", "extra-field", "wrong-type"],
)
async def test_an_entry_of_a_foreign_type_is_a_miss(
    hub: Hub, fake_scripts: Any, entry: dict[str, Any]
) -> None:
    key = await planted_key(hub)
    await backend_of(hub)._client.set(key, FORMAT + json.dumps(entry).encode(), px=60_000)
    await assert_a_miss_that_ran_nothing(hub, key, None)


@pytest.mark.parametrize(
    "value",
    [
        Usage(1, 2),
        (Completion("planted"), 99, 1),
        (Completion("planted"), 0.0, 1),
        (Completion("planted"), 0),
        (ToolResult(output="planted"), 1),
        ((0.5, 0.25), 1, None),
    ],
    ids=["usage", "index-out-of-range", "float-index", "short", "tool-result", "vector"],
)
async def test_an_allowlisted_value_of_the_wrong_shape_is_a_miss_never_a_crash(
    hub: Hub, fake_scripts: Any, value: object
) -> None:
    """Data the codec accepts can still be planted where the pipeline expects another
    shape: the caller gets a fresh reply, never an unpacking or index error."""
    key = await planted_key(hub)
    backend = backend_of(hub)
    await backend._client.set(key, encode(value), px=60_000)
    upstream = len(FakeConnector.scripts["fake"].calls)
    reply = await hub.model("fake:m").complete("q", cache=True)
    assert (reply.text, reply.cached) == ("echo: q", False)
    assert len(FakeConnector.scripts["fake"].calls) == upstream + 1
    assert hub.runtime("fake").cache.rejected == 1  # type: ignore[union-attr]
    assert (await hub.model("fake:m").complete("q", cache=True)).cached


async def test_the_backend_never_unpickles(
    hub: Hub, tmp_path: Path, fake_scripts: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Belt and braces: with every unpickling entry point booby-trapped, reading planted
    and genuine entries works and touches none of them."""
    calls: list[str] = []

    def trap(name: str) -> Any:
        def called(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            raise AssertionError(f"pickle.{name} called")

        return called

    for name in ("loads", "load", "Unpickler"):
        monkeypatch.setattr(pickle, name, trap(name))
    key = await planted_key(hub)
    await backend_of(hub)._client.set(key, crafted_pickle(tmp_path / "pwned"), px=60_000)
    await assert_a_miss_that_ran_nothing(hub, key, tmp_path / "pwned")
    assert calls == []
