"""Fixtures for the cli connector's tests: a plugin host with the plugin, and hub builders."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import pytest
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire_cli.plugin import plugin

#: ``python -S -c SCRIPT``: real programs that start fast (no site import)
PYTHON = [sys.executable, "-S", "-c"]

HubFactory = Callable[..., Hub]


@pytest.fixture
def cli_host(plugin_host: PluginHost) -> PluginHost:
    plugin_host.register(plugin, "cli")
    return plugin_host


@pytest.fixture
def make_hub(cli_host: PluginHost) -> HubFactory:
    """``make_hub(commands, **connector_keys)``: a hub with one ``cli`` connector named ``tool``."""

    def make(commands: dict[str, Any], **table: Any) -> Hub:
        connector = {
            "type": "cli",
            "timeout": 5,
            "retry": {"max_attempts": 1},
            "kill_grace": 0.2,
            "commands": commands,
            **table,
        }
        return Hub.from_dict({"connectors": {"tool": connector}}, host=cli_host)

    return make


@pytest.fixture
def python() -> list[str]:
    return list(PYTHON)
