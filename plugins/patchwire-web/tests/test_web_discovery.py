"""The installed distribution is found through its entry point, and loading it stays light."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

import pytest
from patchwire.plugins import PluginHost
from patchwire_web.connector import WebConnector
from patchwire_web.plugin import plugin


def test_the_entry_point_names_the_plugin_object() -> None:
    (entry,) = [e for e in metadata.entry_points(group="patchwire") if e.name == "web"]
    assert entry.dist is not None and entry.dist.name == "patchwire-web"
    assert entry.load() is plugin


def test_a_plugin_host_discovers_the_connector_type() -> None:
    host = PluginHost(allowlist=["patchwire-web"], strict=True)
    assert host.registries.connectors["web"] is WebConnector
    (info,) = [p for p in host.describe() if p.distribution == "patchwire-web"]
    assert info.error is None
    assert "patchwire_classify_error" in info.hooks


@pytest.mark.integration  # a fresh interpreter, to see what importing the entry point loads
def test_the_entry_point_module_imports_neither_the_connector_nor_the_parser() -> None:
    probe = (
        "import sys, patchwire_web.plugin;"
        " print(sorted(m for m in ('patchwire_web.connector', 'selectolax') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
