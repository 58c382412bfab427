"""The helper that runs one program and leaves nothing of it behind (Linux).

Started as ``python -I -S reaper.py FD`` by ``patchwire_cli.process``. It makes itself a
child subreaper (``PR_SET_CHILD_SUBREAPER``), so every process the program starts is
either its descendant or, once orphaned, its child: a background job, a double-forked
daemon and a process that called ``setsid()`` all stay in reach, even after the program
exits first. Being its own process, it changes nothing in the host application (a
subreaper flag set there would collect every orphan of the host).

Protocol on the socket FD: the runner sends one request and shuts its side for writing.
The request is NUL-separated bytes: the grace period, the runner's pid, the working
directory (empty: inherit), the number of argv items, the argv items, then ``NAME=VALUE``
environment entries (none of these can hold a NUL). The helper answers ``pid N`` once the
program runs (or ``error ERRNO`` when it cannot start) and ``exit STATUS`` (negative: killed
by that signal; ``stopped`` when it was stopped before it could be waited for) once the
program and everything it started are gone. Standard input, output and error are the
runner's pipes, inherited by the program untouched.

The program ends on its own, or the runner sends SIGTERM (deadline, cancellation, output
over its cap). Either way every descendant left gets SIGTERM, then SIGKILL after ``grace``
seconds, and is reaped before ``exit`` is sent.

Start-up time matters (every CLI call pays it), so this imports only built-in modules:
``_signal`` rather than ``signal`` (which imports enum), plain fork and exec rather than
``subprocess``, and ``os.read``/``os.write`` on the socket rather than ``socket``.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]
import ctypes
import os
import sys
import time

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
# A descendant that cannot be killed (another user's setuid program) must not hang the
# call forever: after this long of SIGKILL rounds the helper gives up on it and exits.
_KILL_ROUNDS_LIMIT = 5.0
_POLL = 0.005
_STOP_SIGNALS = (_signal.SIGTERM, _signal.SIGINT, _signal.SIGHUP)
# Every disposition a program can be given is put back to its default before exec: Python
# ignores SIGPIPE and SIGXFSZ at start-up, and a shell starts background jobs with SIGINT and
# SIGQUIT ignored (nohup adds SIGHUP), all of which exec hands down. SIGKILL and SIGSTOP
# cannot be set (valid_signals already leaves out glibc's own 32 and 33).
_RESTORE = tuple(
    sig for sig in _signal.valid_signals() if sig not in (_signal.SIGKILL, _signal.SIGSTOP)
)


class _Stop(Exception):
    """SIGTERM from the runner (or the runner's death): stop the program now."""


def _on_signal(signum: int, frame: object) -> None:
    raise _Stop


def _prctl(option: int, value: int) -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(option, value, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _children(pid: int) -> list[int] | None:
    """Direct children of ``pid``; None when the kernel does not list them."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    out: list[int] = []
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as f:
                out.extend(int(child) for child in f.read().split())
        except FileNotFoundError:
            if not os.path.exists(f"/proc/{pid}/task/{tid}"):
                continue  # the thread ended meanwhile
            return None  # no CONFIG_PROC_CHILDREN
        except OSError:
            continue
    return out


def _parents() -> dict[int, list[int]]:
    """Every process's children, from a scan of /proc (kernels without the children file)."""
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def _descendants() -> list[int]:
    me = os.getpid()
    scanned: dict[int, list[int]] | None = None
    found: list[int] = []
    queue = [me]
    while queue:
        pid = queue.pop()
        children = _children(pid) if scanned is None else scanned.get(pid, [])
        if children is None:
            scanned = _parents()
            children = scanned.get(pid, [])
        for child in children:
            if child != me and child not in found:
                found.append(child)
                queue.append(child)
    return found


def _signal_all(sig: int) -> None:
    for pid in _descendants():
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


class _Reaper:
    def __init__(self) -> None:
        self.program: int | None = None
        self.status: int | None = None

    def reap(self, block: bool) -> bool:
        """Collect finished children; True when none is left at all."""
        while True:
            try:
                pid, wstatus = os.waitpid(-1, 0 if block else os.WNOHANG)
            except ChildProcessError:
                return True
            if pid == 0:
                return False
            if pid == self.program:
                self.status = os.waitstatus_to_exitcode(wstatus)
                if block:
                    return False

    def end_all(self, grace: float) -> None:
        """SIGTERM every descendant, SIGKILL what is left after ``grace``, reap them all."""
        _signal_all(_signal.SIGTERM)
        _signal_all(_signal.SIGCONT)  # a stopped process acts on SIGTERM only once resumed
        until = time.monotonic() + grace
        while not self.reap(block=False):
            if time.monotonic() >= until:
                break
            time.sleep(_POLL)
        give_up = time.monotonic() + _KILL_ROUNDS_LIMIT
        # Rounds, because a process may fork between the listing and the kill; its child
        # is orphaned to us when its parent dies and is found by the next listing.
        while not self.reap(block=False) and time.monotonic() < give_up:
            _signal_all(_signal.SIGKILL)
            time.sleep(_POLL)


def _spawn(argv: list[bytes], env: dict[bytes, bytes], cwd: bytes | None) -> int:
    """Fork and exec the program; its pid, or OSError as exec reported it."""
    failed, report = os.pipe()  # non-inheritable: closes itself at a successful exec
    pid = os.fork()
    if pid == 0:
        try:
            os.close(failed)
            for sig in _RESTORE:
                _signal.signal(sig, _signal.SIG_DFL)
            if cwd:
                os.chdir(cwd)
            os.execvpe(argv[0], argv, env)
        except OSError as exc:
            os.write(report, str(exc.errno or 0).encode())
        finally:
            os._exit(127)
    os.close(report)
    answer = b""
    while chunk := os.read(failed, 64):
        answer += chunk
    os.close(failed)
    if answer:
        os.waitpid(pid, 0)
        raise OSError(int(answer), os.strerror(int(answer)))
    return pid


def _request(fd: int) -> tuple[float, int, bytes | None, list[bytes], dict[bytes, bytes]]:
    data = b""
    while chunk := os.read(fd, 65536):
        data += chunk
    grace, parent, cwd, count, *rest = data.split(b"\0")
    argv = rest[: int(count)]
    env = dict(entry.split(b"=", 1) for entry in rest[int(count) :] if entry)
    return float(grace), int(parent), cwd or None, argv, env


def main() -> None:
    channel = int(sys.argv[1])
    os.set_inheritable(channel, False)  # the program must not hold our channel
    grace, parent, cwd, argv, env = _request(channel)
    for sig in _STOP_SIGNALS:
        _signal.signal(sig, _on_signal)
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)
    reaper = _Reaper()
    try:
        # The runner's death stops the program too; checked after, as it may already be gone.
        _prctl(_PR_SET_PDEATHSIG, _signal.SIGTERM)
        if os.getppid() != parent:
            raise _Stop
        try:
            reaper.program = _spawn(argv, env, cwd)
        except OSError as exc:
            os.write(channel, f"error {exc.errno or 0}\n".encode())
            os._exit(0)
        os.write(channel, f"pid {reaper.program}\n".encode())
        while reaper.status is None:
            reaper.reap(block=True)
    except _Stop:
        pass
    for sig in _STOP_SIGNALS:
        _signal.signal(sig, _signal.SIG_IGN)
    reaper.end_all(grace)
    status = "stopped" if reaper.status is None else str(reaper.status)
    try:
        os.write(channel, f"exit {status}\n".encode())
    except OSError:
        pass
    os._exit(0)


if __name__ == "__main__":
    main()
