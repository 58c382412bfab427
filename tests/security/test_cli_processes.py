"""Attack: a program leaves processes running after its call (issue 13, item 5).

The cli connector signalled the program's process group, so a program that started a
background job and exited 0, or a grandchild that called ``setsid()`` (a daemon leaves the
group and, once its parent exits, is reparented to init), survived the call. Programs now
run under a subreaper helper that ends every descendant at success, failure, timeout and
cancellation. Each test starts real programs that report the pids of what they started
(integration: real subprocesses on real time), and checks those pids are gone, not merely
zombies, when the call returns.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from patchwire.errors import DegradedError, IntegrationError
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire_cli.plugin import plugin

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
]

# argv: PIDFILE SHAPE END. Starts descendants of SHAPE, each ignoring SIGTERM with its
# stdio away from our pipes (so the call can end while they run), appends their pids to
# PIDFILE, then ENDs: "ok" (exit 0), "fail" (exit 3) or "hang".
PROGRAM = r"""
import os, signal, sys, time
pidfile, shape, end = sys.argv[1:4]

def linger():
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    time.sleep(60)
    os._exit(0)

def note(pid):
    with open(pidfile, "a") as f:
        f.write(str(pid) + "\n")

if shape in ("background", "both"):
    pid = os.fork()
    if pid == 0:
        linger()
    note(pid)
if shape in ("daemon", "both"):
    # The classic double fork: a new session, then orphaned at once (reparented).
    first = os.fork()
    if first == 0:
        os.setsid()
        pid = os.fork()
        if pid == 0:
            linger()
        note(pid)
        os._exit(0)
    os.waitpid(first, 0)
if shape == "session":
    # Leaves the group but keeps its parent for as long as the program runs.
    pid = os.fork()
    if pid == 0:
        os.setsid()
        linger()
    note(pid)
if shape == "storm":
    # A daemon that keeps forking while it is being killed: the helper must work in
    # rounds, since each listing can miss a child born just after it.
    first = os.fork()
    if first == 0:
        os.setsid()
        if os.fork() == 0:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            note(os.getpid())
            for _ in range(150):
                pid = os.fork()
                if pid == 0:
                    linger()
                note(pid)
                time.sleep(0.002)
            linger()
        os._exit(0)
    os.waitpid(first, 0)
    time.sleep(0.05)  # let the storm begin before the program ends
if end == "fail":
    sys.exit(3)
if end == "hang":
    time.sleep(60)
"""


def _exists(pid: int) -> bool:
    """Whether ``pid`` is still a process, a zombie included (signal 0 reaches zombies)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _pids(path: Path) -> list[int]:
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _hub(host: PluginHost) -> Hub:
    host.register(plugin, "cli")
    argv = [sys.executable, "-S", "-c", PROGRAM, "{pidfile}", "{shape}", "{end}"]
    connector: dict[str, Any] = {
        "type": "cli",
        "timeout": 2,
        "retry": {"max_attempts": 1},
        "kill_grace": 0.2,
        "commands": {"run": {"argv": argv}},
    }
    return Hub.from_dict({"connectors": {"tool": connector}}, host=host)


async def _spawned(path: Path, count: int) -> list[int]:
    # A deadline, not a number of polls: a loaded machine can take seconds to start Python.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if len(pids := _pids(path)) >= count:
            return pids
        await asyncio.sleep(0.01)
    raise AssertionError("the program never reported what it started")


def _assert_all_gone(pids: list[int]) -> None:
    # Gone, not zombies: the helper reaps everything before the call returns.
    assert pids
    assert [pid for pid in pids if _exists(pid)] == []


# How a call ends, and what it then raises (None: it succeeds).
_ENDS: dict[str, tuple[type[Exception] | None, dict[str, Any]]] = {
    "ok": (None, {}),
    "fail": (IntegrationError, {}),  # exit status 3
    "hang": (DegradedError, {"timeout": 1}),  # the call's deadline
}


@pytest.mark.parametrize(
    ("shape", "end"),
    [
        ("background", "ok"),
        ("daemon", "ok"),
        ("both", "ok"),
        ("background", "fail"),
        ("daemon", "fail"),
        ("daemon", "hang"),
        ("session", "hang"),
        ("both", "hang"),
        ("storm", "ok"),
        ("storm", "hang"),
    ],
)
async def test_nothing_outlives_a_call_however_it_ends(
    plugin_host: PluginHost, tmp_path: Path, shape: str, end: str
) -> None:
    """At success, failure and timeout alike, every process the program started is gone
    when the call returns: background jobs, double-forked daemons, setsid() callers, and
    a daemon still forking while it is killed."""
    raises, options = _ENDS[end]
    pidfile = tmp_path / "pids"
    arguments = {"pidfile": str(pidfile), "shape": shape, "end": end, **options}
    async with _hub(plugin_host) as hub:
        if raises is None:
            result = await hub.tool("tool").call("run", **arguments)
            assert result.metadata["exit_code"] == 0
        else:
            with pytest.raises(raises):
                await hub.tool("tool").call("run", **arguments)
    _assert_all_gone(_pids(pidfile))


@pytest.mark.parametrize("shape", ["daemon", "session"])
async def test_nothing_outlives_a_cancelled_call(
    plugin_host: PluginHost, tmp_path: Path, shape: str
) -> None:
    pidfile = tmp_path / "pids"
    async with _hub(plugin_host) as hub:
        call = asyncio.ensure_future(
            hub.tool("tool").call("run", pidfile=str(pidfile), shape=shape, end="hang")
        )
        pids = await _spawned(pidfile, 1)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
    _assert_all_gone(pids)


async def test_the_helper_shows_the_program_no_environment_it_was_not_given(
    plugin_host: PluginHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The program's parent is the reaper helper, whose environment any same-user process
    can read in /proc; it holds the program's own allowlisted environment and nothing of
    the host application's."""
    monkeypatch.setenv("HOST_ONLY_SECRET", "sk-host-" + "7" * 24)
    read_parent = (
        "import os; data = open(f'/proc/{{os.getppid()}}/environ', 'rb').read();"
        " print(b'HOST_ONLY_SECRET' in data, len(data) > 0)"
    )
    plugin_host.register(plugin, "cli")
    connector = {
        "type": "cli",
        "timeout": 10,
        "retry": {"max_attempts": 1},
        "commands": {"peek": {"argv": [sys.executable, "-S", "-c", read_parent]}},
    }
    hub = Hub.from_dict({"connectors": {"tool": connector}}, host=plugin_host)
    async with hub:
        result = await hub.tool("tool").call("peek")
    assert result.output == "False True\n"
