"""``patchwire simulate``: run in a subprocess, as a user runs it (with the toy wire format)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration  # real subprocesses, real time and a real server

# The command's configure/run, with the toy wire registered into the process's plugin host.
# Ctrl-C is put back as a terminal gives it: a suite started as a background job hands its
# programs SIGINT ignored, and Python then installs no KeyboardInterrupt handler.
SCRIPT = f"""
import argparse, signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)
sys.path.insert(0, {str(Path(__file__).parent)!r})
from patchwire.plugins import default_host
from simtoy import ToyPlugin
default_host().register(ToyPlugin(), "simtoy")
from patchwire.cli import simulate
parser = argparse.ArgumentParser(prog="patchwire simulate")
simulate.configure(parser)
raise SystemExit(simulate.run(parser.parse_args(sys.argv[1:])))
"""


def start(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PATCHWIRE_LOAD_PLUGINS": ""}  # core alone: a fast, isolated start
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, "toy", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def post(url: str, body: dict[str, object]) -> int:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_json_mode_prints_the_address_serves_and_reports_what_it_saw() -> None:
    proc = start("--json", "--duration", "30", "--fail-rate", "1", "--seed", "3")
    try:
        assert proc.stdout is not None
        started = json.loads(proc.stdout.readline())
        assert started["wire"] == "toy" and started["base_url"].endswith("/toy")
        assert post(started["base_url"] + "/chat", {"model": "toy-1", "prompt": "hi"}) == 500
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    stats = json.loads(out.strip().splitlines()[-1])["stats"]
    assert stats["requests"] == 1 and stats["faults"] == {"server_error": 1}


def test_banner_shows_an_example_configuration_and_duration_ends_it() -> None:
    proc = start("--duration", "0.3", "--rpm", "60", "--rate-limit-rate", "0.25")
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "toy simulator on http://127.0.0.1:" in out
    assert "rate_limited 25%" in out and "60 requests/min" in out
    assert "[connectors.toy]" in out and 'base_url = "http://127.0.0.1:' in out
    assert "served 0 requests" in err


def test_impossible_fault_shares_are_refused_with_a_message() -> None:
    proc = start("--fail-rate", "0.8", "--hang-rate", "0.8", "--duration", "0")
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 1
    assert "fault probabilities add up to 1.6" in err
