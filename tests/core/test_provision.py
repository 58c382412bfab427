"""scripts/provision.sh: every program the tests drive is on PATH, or the run stops first.

Integration: runs the real script in a subprocess against a copy of the repo's layout whose
PATH lacks chosen programs, as a fresh machine's would. The non-root path is simulated with
``PATCHWIRE_PROVISION_ROOT=0`` so that no test ever runs apt-get.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "provision.sh"

pytestmark = pytest.mark.integration


def _declared_programs() -> list[tuple[str, str, str]]:
    text = SCRIPT.read_text()
    block = re.search(r"PROGRAMS='\n(.*?)\n'", text, re.S)
    assert block is not None, "provision.sh lost its PROGRAMS list"
    rows = [line.split() for line in block.group(1).splitlines() if line.strip()]
    assert all(len(row) == 3 for row in rows), rows
    return [(row[0], row[1], row[2]) for row in rows]


def _layout(tmp_path: Path, without: set[str]) -> tuple[Path, dict[str, str]]:
    """A repo copy with an empty .venv/bin and a PATH of every system program but ``without``."""
    root = tmp_path / "repo"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(SCRIPT, root / "scripts" / "provision.sh")
    venv_bin = root / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "python").symlink_to(sys.executable)
    path_dir = tmp_path / "path"
    path_dir.mkdir()
    for directory in ("/usr/local/bin", "/usr/bin", "/bin"):
        if not os.path.isdir(directory):
            continue
        for name in os.listdir(directory):
            target = path_dir / name
            if name in without or target.exists() or target.is_symlink():
                continue
            target.symlink_to(os.path.join(directory, name))
    # A program provisioned into the repo's .venv/bin (a non-root build) is present too.
    for program, _, _ in _declared_programs():
        found = shutil.which(program, path=str(REPO / ".venv" / "bin"))
        target = path_dir / program
        if found and program not in without and not target.exists():
            target.symlink_to(found)
    env = {
        "PATH": str(path_dir),
        "HOME": str(tmp_path),
        "PATCHWIRE_PROVISION_ROOT": "0",
        "PATCHWIRE_PROVISION_FALLBACK": "0",
    }
    return root, env


def _run(root: Path, env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run(
        ["bash", str(root / "scripts" / "provision.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done, time.monotonic() - started


def test_the_list_declares_every_program_the_suite_needs() -> None:
    names = {program for program, _, _ in _declared_programs()}
    assert {"jq", "pandoc", "git", "redis-server"} <= names


def test_a_missing_program_stops_before_the_run_with_one_line_naming_it(tmp_path: Path) -> None:
    root, env = _layout(tmp_path, without={"jq", "redis-server"})
    done, took = _run(root, env)
    assert done.returncode != 0
    assert took < 30
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    line = lines[0]
    assert "missing jq, redis-server" in line
    assert "apt-get install -y jq redis-server" in line
    # Programs that are present are not named.
    assert "git" not in line.split("install")[0]


def test_a_program_present_on_path_passes_silently(tmp_path: Path) -> None:
    needed = [program for program, _, _ in _declared_programs()]
    if any(shutil.which(program) is None for program in needed):
        pytest.fail(f"run scripts/provision.sh first: one of {needed} is not on PATH")
    root, env = _layout(tmp_path, without=set())
    done, _ = _run(root, env)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_a_program_in_the_venv_counts_as_installed(tmp_path: Path) -> None:
    # The non-root builds land in .venv/bin, which the script (and scripts/test.sh) put on PATH.
    root, env = _layout(tmp_path, without={"jq"})
    real = shutil.which("jq")
    assert real is not None, "run scripts/provision.sh first: jq is not on PATH"
    (root / ".venv" / "bin" / "jq").symlink_to(real)
    done, _ = _run(root, env)
    assert done.returncode == 0, done.stderr


def test_a_program_nothing_can_install_stops_before_any_install(tmp_path: Path) -> None:
    """Non-root, redis-server has no pip build: the run stops at once, without first
    spending minutes installing pandoc's pip build for a run that cannot happen."""
    root, env = _layout(tmp_path, without={"pandoc", "redis-server"})
    del env["PATCHWIRE_PROVISION_FALLBACK"]  # the pip/npm builds are allowed
    done, took = _run(root, env)
    assert done.returncode != 0 and took < 30
    assert "missing pandoc, redis-server" in done.stderr
    assert "apt-get install -y pandoc redis-server" in done.stderr
    assert not (root / ".venv" / "bin" / "pandoc").exists()
    assert "installing" not in done.stderr
