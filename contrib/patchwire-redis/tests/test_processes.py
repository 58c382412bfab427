"""Hubs in separate OS processes share one Redis: one quota, one cache.

Integration tests: real processes on the real clock, because what is under test is that
processes with unrelated monotonic clocks agree through the Redis server's time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

WORKER = Path(__file__).with_name("hub_worker.py")
RATE = 5.0  # requests_per_second in hub_worker.py: capacity 5, refill 5 per second
SECONDS = 2.0


def worker(args: list[str], url: str, prefix: str) -> subprocess.Popen[str]:
    env = dict(os.environ, TEST_REDIS_URL=url, TEST_REDIS_PREFIX=prefix)
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def output(process: subprocess.Popen[str]) -> Any:
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    return json.loads(out.splitlines()[-1])


@pytest.mark.integration
def test_two_processes_share_one_quota(redis_url: str, prefix: str) -> None:
    """Shared admission bound: whatever the interleaving, between any two admissions t_i <=
    t_j (from either process) at most capacity + rate * (t_j - t_i) calls were admitted,
    allowing 0.5 s for the time between an admission on the server and its recording (a
    loaded machine can delay a process that long). Two unshared limiters would admit about
    twice that."""
    processes = [worker(["limit", str(SECONDS)], redis_url, prefix) for _ in range(2)]
    for process in processes:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready", process.communicate()[1]
    start = time.time() + 0.2
    for process in processes:
        assert process.stdin is not None
        process.stdin.write(f"{start!r}\n")
        process.stdin.flush()
    per_process: list[list[float]] = [output(process) for process in processes]
    assert all(per_process), "each process was admitted at least once"
    times = sorted(t for admitted in per_process for t in admitted)
    for i in range(len(times)):
        for j in range(i, len(times)):
            assert j - i + 1 <= RATE + RATE * (times[j] - times[i] + 0.5), (i, j, times)
    # and the quota was used, not merely respected: most of capacity + rate * seconds
    assert len(times) >= 0.7 * (RATE + RATE * SECONDS)


@pytest.mark.integration
def test_a_response_cached_by_one_process_is_served_to_another(redis_url: str, prefix: str) -> None:
    first = output(worker(["cache"], redis_url, prefix))
    assert first == {"cached": False, "text": "echo: a shared question", "upstream": 1}
    second = output(worker(["cache"], redis_url, prefix))
    assert second == {"cached": True, "text": "echo: a shared question", "upstream": 0}
