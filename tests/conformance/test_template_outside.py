"""The template works where authors use it: copied out of this repository into an empty
folder, installed with ``pip install -e .[test]`` into a fresh venv beside core, its own
tests (the whole conformance suite included) pass.

Measured on the CI machine with pip's cache warm: about 20 s to install, 20 s to test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SKIP = shutil.ignore_patterns("*.egg-info", "__pycache__", ".pytest_cache", "build", "dist")


def _run(argv: list[str], cwd: Path, env: dict[str, str], timeout: float) -> str:
    done = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(argv)} exited {done.returncode}:\n{output[-4000:]}"
    return output


@pytest.mark.integration  # a real venv, real pip and a real pytest run: what an author does
def test_template_copied_out_passes_its_tests_in_a_fresh_venv(tmp_path: Path) -> None:
    assert REPO not in tmp_path.parents, "the copy must live outside the workspace"
    plugin = tmp_path / "patchwire-acme"
    shutil.copytree(REPO / "contrib" / "template", plugin, ignore=SKIP)
    # Nothing of the workspace leaks in: no PYTHONPATH, no plugin allow-list, no venv.
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "VIRTUAL_ENV") and not k.startswith("PATCHWIRE_")
    }
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path, env, 60)
    python = str(venv / "bin" / "python")
    # The repo's pip installs into the fresh venv (ensurepip would add ~10 s): core from
    # this checkout (it is not published), then the plugin exactly as its README says.
    pip = [sys.executable, "-m", "pip", "--python", python, "install", "-q"]
    _run([*pip, str(REPO / "core"), "-e", f"{plugin}[test]"], plugin, env, 600)
    output = _run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider"], plugin, env, 600)
    summary = output.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary and "error" not in summary, summary
