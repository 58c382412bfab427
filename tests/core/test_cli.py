"""The command line in subprocesses, as a user runs it (integration: real processes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
SECRET = "sk-cli-secret-value-987654321"


def run(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k != "PATCHWIRE_CONFIG"}
    full.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "patchwire.cli.main", *args],
        capture_output=True,
        text=True,
        env=full,
        cwd=cwd,
        timeout=120,
    )


def test_version_and_help() -> None:
    assert run("--version").stdout.startswith("patchwire ")
    out = run("--help").stdout
    for command in ("plugins", "doctor", "call", "embed", "tool", "stats", "demo", "simulate"):
        assert command in out


def test_doctor_reports_found_and_missing_without_values(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(SECRET + "\n")
    config = tmp_path / "patchwire.toml"
    config.write_text(
        f"""
[connectors.template_a]
type = "{"plainfake"}"
"""
    )
    # doctor needs installed connector types; use the core-only set with a bad type first
    bad = run("doctor", "--config", str(config))
    assert (
        bad.returncode == 2
        and "unknown connector type (a string of 9 characters)" in bad.stderr
        and "[connectors.template_a]" in bad.stderr
    )


def test_doctor_with_an_installed_type(tmp_path: Path) -> None:
    types = json.loads(run("plugins", "--json").stdout)
    connector_types = [t for p in types for t in p.get("connectors", {})]
    if not connector_types:
        pytest.skip("no connector plugin installed in this environment")
    ctype = "openai" if "openai" in connector_types else connector_types[0]
    key_file = tmp_path / "key"
    key_file.write_text(SECRET + "\n")
    config = tmp_path / "patchwire.toml"
    config.write_text(
        f'[connectors.a]\ntype = "{ctype}"\napi_key = "file:{key_file}"\n\n'
        f'[connectors.b]\ntype = "{ctype}"\napi_key = "env:PW_MISSING_KEY_FOR_TEST"\n'
    )
    out = run("doctor", "--config", str(config), "--json")
    assert SECRET not in out.stdout + out.stderr
    report = json.loads(out.stdout)
    assert report["connectors"]["a"]["credentials"][f"file:{key_file}"] == "found"
    missing = report["connectors"]["b"]["credentials"]["env:PW_MISSING_KEY_FOR_TEST"]
    assert missing.startswith("missing") and "PW_MISSING_KEY_FOR_TEST is not set" in missing
    assert out.returncode == 1
    text = run("doctor", "--config", str(config))
    assert SECRET not in text.stdout + text.stderr and "1 problem(s)" in text.stdout


def test_config_env_variable_is_used(tmp_path: Path) -> None:
    config = tmp_path / "elsewhere.toml"
    config.write_text('[connectors.x]\ntimeout = -1\ntype = "nope"\n')
    out = run("doctor", env={"PATCHWIRE_CONFIG": str(config)})
    assert out.returncode == 2 and str(config) in out.stderr
