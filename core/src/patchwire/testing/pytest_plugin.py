"""pytest fixtures for patchwire and its plugins (registered under ``pytest11``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from patchwire.clock import VirtualClock
from patchwire.plugins import PluginHost, PluginInfo
from patchwire.testing.fake import FakeConnector, FakePlugin


@pytest.fixture
def virtual_clock() -> VirtualClock:
    """A clock that jumps to the next timer when every task waits: tests never sleep."""
    return VirtualClock()


@pytest.fixture
def plugin_host() -> PluginHost:
    """A plugin host with core's built-ins only (no installed entry points), plus the fake connector."""
    host = PluginHost(load_entry_points=False)
    host.register(FakePlugin(), "patchwire.testing.fake", distribution="patchwire")
    return host


@pytest.fixture
def register_plugin(plugin_host: PluginHost) -> Iterator[Callable[[object, str], PluginInfo]]:
    """Register a plugin object into ``plugin_host``; it is unregistered at teardown."""
    names: list[str] = []

    def register(plugin: object, name: str) -> PluginInfo:
        names.append(name)
        return plugin_host.register(plugin, name)

    yield register
    for name in names:
        plugin_host.unregister(name)


@pytest.fixture
def fake_scripts() -> Iterator[dict[str, Any]]:
    """The fake connector's scripts by connector name, emptied after the test."""
    FakeConnector.scripts.clear()
    yield FakeConnector.scripts
    FakeConnector.scripts.clear()
