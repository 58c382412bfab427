"""The simulator framework's tests share ``simtoy`` (a toy wire format), importable from here."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from patchwire.plugins import PluginHost

sys.path.insert(0, str(Path(__file__).parent))

from simtoy import ToyPlugin


@pytest.fixture
def toy_host(plugin_host: PluginHost) -> PluginHost:
    """A plugin host whose only simulator is the toy wire format."""
    plugin_host.register(ToyPlugin(), "simtoy")
    return plugin_host
