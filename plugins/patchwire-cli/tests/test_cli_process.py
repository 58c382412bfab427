"""Running real programs: nothing survives a run that ends early, and output stays bounded.

Integration: these start real processes and wait on real time (a program's reaction to
SIGTERM is not something a virtual clock can stand in for).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
import time
from pathlib import Path

import pytest
from patchwire_cli.process import Finished, OutputTooLarge, run

pytestmark = pytest.mark.integration

PYTHON = [sys.executable, "-S", "-c"]

# Ignores SIGTERM, starts a child that ignores it too, and records both pids.
STUBBORN = """
import os, signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-S", "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"])
with open(sys.argv[1], "w") as f:
    f.write(f"{os.getpid()} {child.pid}")
time.sleep(60)
"""


def _state(pid: int) -> str | None:
    """The process's state letter from /proc, or None when it no longer exists."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return None


def _read_pids(path: Path) -> list[int]:
    text = path.read_text().split() if path.exists() else []
    return [int(p) for p in text] if len(text) == 2 else []


async def _pids(path: Path) -> list[int]:
    # A deadline, not a number of polls: a loaded machine can take seconds to start Python.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if pids := _read_pids(path):
            return pids
        await asyncio.sleep(0.01)
    raise AssertionError("the program never wrote its pids")


def _run(
    argv: list[str],
    *,
    stdin: bytes | None = None,
    cwd: str | None = None,
    env: dict[str, str] | None = None,
    max_output: int = 1 << 20,
    max_stderr: int = 4096,
) -> asyncio.Task[Finished]:
    return asyncio.ensure_future(
        run(
            argv,
            stdin=stdin,
            cwd=cwd,
            env=env or {},
            max_output=max_output,
            max_stderr=max_stderr,
            grace=0.2,
        )
    )


async def _assert_gone(leader: int, child: int) -> None:
    # We reap the leader ourselves; the orphaned child is reaped by init, which may lag.
    assert _state(leader) is None
    for _ in range(200):
        if _state(child) in (None, "Z"):
            break
        await asyncio.sleep(0.01)
    assert _state(child) in (None, "Z")


async def test_cancellation_kills_the_whole_group_even_a_program_ignoring_sigterm(
    tmp_path: Path,
) -> None:
    pidfile = tmp_path / "pids"
    before = asyncio.all_tasks()
    task = _run([*PYTHON, STUBBORN, str(pidfile)])
    leader, child = await _pids(pidfile)
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # SIGTERM is ignored, so SIGKILL follows after the 0.2 s grace, not when the program's
    # 60 s sleep ends (the upper bound is loose so that a loaded machine cannot fail it).
    assert 0.15 <= time.monotonic() - started < 30
    await _assert_gone(leader, child)
    assert not [t for t in asyncio.all_tasks() - before if not t.done()]


async def test_a_deadline_kills_the_group_and_reaps_the_program(tmp_path: Path) -> None:
    pidfile = tmp_path / "pids"
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(1.0):
            task = _run([*PYTHON, STUBBORN, str(pidfile)])
            await task
    leader, child = _read_pids(pidfile)
    await _assert_gone(leader, child)


async def test_a_second_cancellation_during_cleanup_still_kills_and_reaps(tmp_path: Path) -> None:
    pidfile = tmp_path / "pids"
    task = _run([*PYTHON, STUBBORN, str(pidfile)])
    leader, child = await _pids(pidfile)
    task.cancel()
    await asyncio.sleep(0.05)  # inside the grace period now
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await _assert_gone(leader, child)


async def test_a_flood_of_output_is_cut_at_the_cap_and_the_program_stopped(
    tmp_path: Path,
) -> None:
    flood = "import os, sys\nopen(sys.argv[1], 'w').write(f'{os.getpid()} 0')\nwhile True: sys.stdout.write('x' * 65536)"
    pidfile = tmp_path / "pids"
    with pytest.raises(OutputTooLarge) as info:
        await _run([*PYTHON, flood, str(pidfile)], max_output=1 << 20)
    assert info.value.limit == 1 << 20
    assert _state(_read_pids(pidfile)[0]) is None


async def test_stderr_keeps_its_end_within_the_bound() -> None:
    script = "import sys; sys.stderr.write('e' * 200000 + 'THE END'); print('done')"
    finished = await _run([*PYTHON, script], max_stderr=1000)
    assert finished.status == 0
    assert finished.stdout == b"done\n"
    assert len(finished.stderr) == 1000
    assert finished.stderr.endswith(b"THE END")
    assert finished.stderr_dropped == 200007 - 1000


async def test_stdin_is_fed_and_a_program_may_ignore_it() -> None:
    upper = "import sys; sys.stdout.write(sys.stdin.read().upper())"
    finished = await _run([*PYTHON, upper], stdin="héllo".encode())
    assert finished.stdout == "HÉLLO".encode()
    # Exits without reading 8 MB of input: the broken pipe is not an error.
    finished = await _run([*PYTHON, "print('ok')"], stdin=b"x" * (8 << 20))
    assert finished.stdout == b"ok\n"


async def test_the_environment_is_exactly_the_one_given(tmp_path: Path) -> None:
    # env(1), not python: python adds LC_CTYPE to its own environment (PEP 538).
    program = shutil.which("env")
    assert program is not None
    finished = await _run([program], env={"ONLY": "1"}, cwd=str(tmp_path))
    assert finished.stdout == b"ONLY=1\n"


async def test_signals_are_reported_as_negative_statuses() -> None:
    finished = await _run([*PYTHON, "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"])
    assert finished.status == -11


async def test_no_zombie_after_a_normal_run() -> None:
    finished = await _run([*PYTHON, "import os; print(os.getpid())"])
    assert _state(int(finished.stdout)) is None


async def test_a_missing_program_raises_oserror() -> None:
    with pytest.raises(FileNotFoundError):
        await _run([os.path.join(os.sep, "nonexistent", "prog")])


async def test_signal_dispositions_and_mask_are_the_defaults() -> None:
    """Python ignores SIGPIPE and SIGXFSZ at start-up; a program run for a call must not
    inherit that (``yes | head`` would never end), nor a blocked signal."""
    program = shutil.which("cat")
    assert program is not None
    finished = await _run([program, "/proc/self/status"])
    status = dict(
        line.split(":\t", 1) for line in finished.stdout.decode().splitlines() if ":\t" in line
    )
    # Signals 32 and 33 are glibc's own (thread cancellation, setxid): no program can set
    # them through libc, and GNU make starts its recipes with them ignored, so `make test`
    # hands them down. Every signal a program can set must be at its default.
    settable = sum(1 << (number - 1) for number in signal.valid_signals())
    assert int(status["SigIgn"], 16) & settable == 0
    assert int(status["SigBlk"], 16) & settable == 0


async def test_a_nul_byte_in_the_environment_is_refused_before_anything_starts() -> None:
    with pytest.raises(OSError, match="NUL"):
        await _run([*PYTHON, "pass"], env={"X": "a\x00b"})
