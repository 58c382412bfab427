"""Discovery through real installed distributions: entry points in the group ``patchwire``.

The fixture pip-installs four small distributions from tests/fixtures/dists into a private
target directory (an integration test: it runs pip and subprocesses).
"""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from patchwire.plugins import PluginError, PluginHost

DISTS = Path(__file__).parent.parent / "fixtures" / "dists"
pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            *sorted(str(p) for p in DISTS.iterdir()),
        ],
        check=True,
    )
    return target


def entry_points(site: Path) -> list[md.EntryPoint]:
    eps = []
    for dist in md.distributions(path=[str(site)]):
        eps.extend(ep for ep in dist.entry_points if ep.group == "patchwire")
    return eps


def test_good_plugin_discovered_and_broken_ones_reported(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(site))
    host = PluginHost(entry_points=entry_points(site))
    infos = {p.name: p for p in host.describe()}
    good = infos["testplugin_good"]
    assert (
        good.error is None
        and good.distribution == "patchwire-testplugin-good"
        and good.version == "1.2.3"
    )
    assert "patchwire_register_connectors" in good.hooks and "patchwire_record" in good.hooks
    assert "good" in host.registries.connectors
    assert "this plugin is broken on purpose" in (infos["testplugin_bad"].error or "")
    old = infos["testplugin_oldcontract"].error or ""
    assert "contract 2.0" in old and "patchwire-testplugin-oldcontract" in old and "1.0" in old
    assert "patchwire_register_conectors" in (infos["testplugin_typo"].error or "")
    # core's built-ins keep working beside the broken plugins
    assert {"env", "file"} <= set(host.registries.secret_sources)


def test_strict_mode_makes_a_broken_plugin_fatal(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(site))
    with pytest.raises(PluginError, match="testplugin_bad"):
        PluginHost(strict=True, entry_points=entry_points(site))


def test_allowlist_limits_loading(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(site))
    host = PluginHost(entry_points=entry_points(site), allowlist=["patchwire-testplugin-good"])
    assert [p.name for p in host.plugins if not p.builtin] == ["testplugin_good"]
    none = PluginHost(entry_points=entry_points(site), allowlist=[])
    assert [p for p in none.plugins if not p.builtin] == []


def run_cli(site: Path, *args: str, allow: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(site))
    env.pop("PATCHWIRE_LOAD_PLUGINS", None)
    if allow is not None:
        env["PATCHWIRE_LOAD_PLUGINS"] = allow
    return subprocess.run(
        [sys.executable, "-m", "patchwire.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_cli_plugins_lists_builtins_and_errors(site: Path) -> None:
    out = run_cli(
        site, "plugins", "--json", allow="patchwire-testplugin-good,patchwire-testplugin-bad"
    )
    data = {p["name"]: p for p in json.loads(out.stdout)}
    assert data["patchwire.auth"]["builtin"] is True
    assert "secret source env" in data["patchwire.auth"]["provides"]
    assert data["testplugin_good"]["connectors"]["good"]["capabilities"] == ["complete"]
    assert "broken on purpose" in data["testplugin_bad"]["error"]
    text = run_cli(site, "plugins", allow="patchwire-testplugin-good")
    assert text.returncode == 0, text.stderr
    assert (
        "testplugin_good" in text.stdout and "provides: connector type good v1.2.3" in text.stdout
    )


def test_help_does_not_import_plugin_internals(site: Path) -> None:
    code = (
        "import sys; from patchwire.cli.main import build_parser; build_parser();"
        "print(sorted(m for m in sys.modules if m.startswith(('patchwire_', 'aiohttp.web', 'hypothesis'))))"
    )
    env = dict(os.environ, PYTHONPATH=str(site), PATCHWIRE_LOAD_PLUGINS="patchwire-testplugin-good")
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.replace("'", '"')) == ["patchwire_testplugin_good"]
