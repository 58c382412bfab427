"""Per-operation ``timeout`` and ``ttl`` (issue 14, item 9), falling back to the connector's.

Integration: real HTTP on loopback. The ttl test runs on a clock that only moves when the
test advances it, so expiry is exact and nothing sleeps.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from patchwire.clock import VirtualClock
from patchwire.errors import ConfigError, DegradedError
from patchwire.hub import Hub

pytestmark = pytest.mark.integration

HubFactory = Callable[..., Hub]
Site = Any  # conftest.Site


async def test_an_operation_timeout_replaces_the_connectors_for_that_operation_only(
    make_hub: HubFactory, site: Site
) -> None:
    ops = {
        "slow_page": {"url": "/slow", "kind": "page", "timeout": 0.3},
        "search": {"url": "/api/search?q={q}"},
    }
    async with make_hub(operations=ops, timeout=10, respect_robots=False) as hub:
        tool = hub.tool("site")
        started = time.monotonic()
        with pytest.raises(DegradedError, match=r"attempt timed out after 0\.3 s"):
            await tool.call("slow_page")
        # /slow answers after 5 s: only the operation's 0.3 s can have ended it this soon.
        assert time.monotonic() - started < 4.5
        assert (await tool.call("search", q="lamp")).output["total"] == 1
        row = hub.metrics().for_model("site", None)
    assert row.timeouts == 1


async def test_an_operation_ttl_bounds_how_long_its_cached_answer_is_served(
    make_hub: HubFactory, site: Site
) -> None:
    ops = {
        "stable": {"url": "/api/search?q=stable", "cache": True, "ttl": 100},
        "dynamic": {"url": "/api/search?q=dynamic", "cache": True, "ttl": 0},
        "default": {"url": "/api/search?q=default", "cache": True},
    }
    clock = VirtualClock(autojump=False)
    hub = make_hub(clock=clock, operations=ops, http_cache_size=0, cache={"ttl": 3600}, timeout=30)
    async with hub:
        tool = hub.tool("site")
        for name in ("stable", "dynamic", "default"):
            assert not (await tool.call(name)).cached
        clock.advance(99)
        assert (await tool.call("stable")).cached
        assert (await tool.call("default")).cached
        assert not (await tool.call("dynamic")).cached  # ttl 0: never served from the cache
        clock.advance(2)  # past the operation's 100 s, well within the connector's 3600 s
        assert not (await tool.call("stable")).cached
        assert (await tool.call("default")).cached
    assert site.hits["/api/search"] == 5


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("timeout", 0, "must be > 0 seconds"),
        ("timeout", -2, ">= 0"),
        ("timeout", "10", "a number"),
        ("ttl", -1, ">= 0"),
        ("ttl", 10**400, "<="),
    ],
)
def test_bad_timeouts_and_ttls_are_refused_at_load_naming_the_key(
    make_hub: HubFactory, key: str, value: Any, message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        make_hub(operations={"op": {"url": "/api/search", key: value}})
    assert info.value.key == key
    assert info.value.table == "connectors.site.operations.op"
    assert message in info.value.message
