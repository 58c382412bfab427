"""The installed distribution is found through its entry point, and loading it stays light."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

import pytest
from patchwire.plugins import PluginHost
from patchwire_cli.connector import CliConnector
from patchwire_cli.plugin import plugin


def test_the_entry_point_names_the_plugin_object() -> None:
    (entry,) = [e for e in metadata.entry_points(group="patchwire") if e.name == "cli"]
    assert entry.dist is not None and entry.dist.name == "patchwire-cli"
    assert entry.load() is plugin


def test_a_plugin_host_discovers_the_connector_type() -> None:
    host = PluginHost(allowlist=["patchwire-cli"], strict=True)
    assert host.registries.connectors["cli"] is CliConnector
    (info,) = [p for p in host.describe() if p.distribution == "patchwire-cli"]
    assert info.error is None
    assert "patchwire_classify_error" in info.hooks


@pytest.mark.integration  # a fresh interpreter, to see what importing the entry point loads
def test_the_entry_point_module_does_not_import_the_connector() -> None:
    probe = "import sys, patchwire_cli.plugin; print('patchwire_cli.connector' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
