"""The MCP project's own client conformance suite (@modelcontextprotocol/conformance) against
conformance/client.py, one scenario at a time.

Every client scenario the suite lists is run: one named in conformance/expected-passes.txt
must pass (a regression fails here), one not named must fail (strict xfail: a fix fails here
until its line is added). ``mcp-conformance`` is put on PATH by scripts/provision.sh (which
runs conformance/provision.sh: the suite and Node.js 22 from npm into .venv/node).
Integration tests: the suite starts real servers on loopback and runs the client as a real
subprocess on the real clock.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent.parent / "conformance"
CLIENT = HERE / "client.py"
#: a scenario the suite runs for longer than this is a client stuck waiting (ms)
CLIENT_TIMEOUT_MS = 60_000


def _find() -> str | None:
    return shutil.which("mcp-conformance") or shutil.which(
        "mcp-conformance", path=str(Path(sys.executable).parent)
    )


def _suite() -> str:
    found = _find()
    if found is None:
        pytest.fail(
            "mcp-conformance is not on PATH: run scripts/provision.sh (it installs the suite"
            " and Node.js 22 into .venv/node)"
        )
    return found


@cache
def client_scenarios() -> tuple[str, ...]:
    """The client scenarios the installed suite lists (its ``list --client``)."""
    suite = _find()
    if suite is None:
        return ()
    listed = subprocess.run(
        [suite, "list", "--client"], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    return tuple(re.findall(r"^\s*- (\S+)", listed, flags=re.MULTILINE))


def expected_passes() -> frozenset[str]:
    lines = (HERE / "expected-passes.txt").read_text().splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def _params() -> list[object]:
    passes = expected_passes()
    scenarios = client_scenarios() or tuple(sorted(passes))
    return [
        pytest.param(
            name,
            id=name,
            marks=()
            if name in passes
            else pytest.mark.xfail(strict=True, reason="not yet passed by the client"),
        )
        for name in scenarios
    ]


def test_every_expected_pass_is_a_scenario_of_the_suite() -> None:
    _suite()
    unknown = expected_passes() - set(client_scenarios())
    assert not unknown, f"expected-passes.txt names scenarios the suite lacks: {sorted(unknown)}"


@pytest.mark.parametrize("scenario", _params())
def test_scenario(scenario: str, tmp_path: Path) -> None:
    suite = _suite()
    command = f"{sys.executable} {CLIENT}"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    run = subprocess.run(
        [
            suite,
            "client",
            "--command",
            command,
            "--scenario",
            scenario,
            "--timeout",
            str(CLIENT_TIMEOUT_MS),
            "-o",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=CLIENT_TIMEOUT_MS / 1000 + 60,
        env=env,
        cwd=tmp_path,
    )
    failed = [line for line in run.stdout.splitlines() if line.strip().startswith("- ")]
    said = "\n".join(p.read_text()[-2000:] for p in tmp_path.rglob("stderr.txt"))
    assert run.returncode == 0, (
        f"{scenario} failed:\n"
        + "\n".join(failed or [run.stdout[-3000:]])
        + f"\nthe client's stderr:\n{said}"
    )
