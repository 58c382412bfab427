"""The synchronous facade offers everything the async API does (issue 14 item 11), and
``hub.metrics(window=...)`` states its bounds when refused."""

from __future__ import annotations

import inspect
import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from patchwire.arguments import InvalidArgument
from patchwire.hub import Hub
from patchwire.model import Model, Tool
from patchwire.sync import SyncHub, SyncModel, SyncTool

# Async names whose sync twin has another name, and plumbing a script has no use for.
RENAMED = {"aclose": "close"}
PLUMBING = {
    "session": "the aiohttp session belongs to the hub's loop thread",
    "runtime": "a connector's runtime is pipeline plumbing, reached through model()/tool()",
}


def _public(cls: type) -> dict[str, Any]:
    return {
        name: value
        for klass in reversed(cls.__mro__[:-1])
        for name, value in vars(klass).items()
        if not name.startswith("_")
    }


@pytest.mark.parametrize(
    ("async_cls", "sync_cls"), [(Hub, SyncHub), (Model, SyncModel), (Tool, SyncTool)]
)
def test_every_public_method_of_the_async_api_has_a_sync_twin(async_cls, sync_cls):
    sync_names = _public(sync_cls)
    for name, member in _public(async_cls).items():
        if name in PLUMBING:
            continue
        twin = RENAMED.get(name, name)
        assert twin in sync_names, f"{sync_cls.__name__} lacks {twin} (from {async_cls.__name__})"
        function = getattr(member, "__func__", member)
        if not callable(function):
            continue
        async_params = inspect.signature(function).parameters
        sync_params = inspect.signature(getattr(sync_cls, twin)).parameters
        passthrough = any(p.kind is p.VAR_KEYWORD for p in sync_params.values())
        for param in async_params.values():
            if param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
                continue
            assert param.name in sync_params or passthrough, (
                f"{sync_cls.__name__}.{twin} does not take '{param.name}'"
            )


def test_sync_tool_lists_and_calls_and_metrics_take_a_window(plugin_host):
    with SyncHub.from_dict({"connectors": {"fake": {}}}, host=plugin_host) as hub:
        tool = hub.tool("fake")
        assert [info.name for info in tool.list()] == ["echo"]
        assert tool.call("echo", x="1").output == {"x": "1"}
        model = hub.model("fake:m")
        assert model.targets == ("fake:m",) and model.name == "fake:m"
        assert model.complete("hi").text
        assert hub.metrics(window=60).window == 60
        assert model.usage().succeeded == 1
        with pytest.raises(InvalidArgument) as info:
            model.complete("hi", timeout=0)
        assert "timeout" in info.value.message


@pytest.mark.parametrize("window", [10**6, 0, -1, "60", True])
def test_metrics_window_out_of_bounds_states_the_bounds(plugin_host, window):
    hub = Hub.from_dict({"connectors": {"fake": {}}}, host=plugin_host)
    with pytest.raises(InvalidArgument) as info:
        hub.metrics(window=window)
    lowest, longest = hub.aggregator.resolution, hub.aggregator.windows[-1]
    assert f"from {lowest:g} to {longest:g}" in info.value.message
    assert isinstance(info.value, ValueError)


def test_sync_hub_from_environment_reads_the_config_variable(plugin_host, tmp_path, monkeypatch):
    path = tmp_path / "pw.toml"
    path.write_text("[connectors.fake]\ntimeout = 7\n")
    monkeypatch.setenv("PATCHWIRE_CONFIG", str(path))
    with SyncHub.from_environment(host=plugin_host) as hub:
        assert hub.hub.config.connectors["fake"].timeout == 7.0


@pytest.mark.integration
def test_sync_hub_serves_metrics_over_loopback(plugin_host):
    """Real socket on 127.0.0.1: the facade's server answers while the script blocks."""
    with SyncHub.from_dict({"connectors": {"fake": {}}}, host=plugin_host) as hub:
        hub.model("fake:m").complete("hi")
        server = hub.serve_metrics(port=0)
        with urllib.request.urlopen(f"{server.url}/metrics.json", timeout=10) as reply:
            data = json.loads(reply.read())
    assert any(row["succeeded"] == 1 for row in data["connectors"])


@pytest.mark.integration
def test_python_dash_m_patchwire_runs_the_cli(tmp_path: Path):
    """A real subprocess: ``python -m patchwire`` is the ``patchwire`` command."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "patchwire", "--version"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0 and done.stdout.startswith("patchwire ")
