"""Running one program: bounded output, and no process left behind however the run ends.

On Linux the program runs under a small helper process (``reaper.py``) that is a child
subreaper: whatever the program starts stays in its reach, background jobs, double-forked
daemons and ``setsid()`` callers included, and is ended when the program exits or the run
is stopped. Elsewhere the program leads its own process group and the group is signalled,
which reaches everything but a process that left the group.

A run ends early at the attempt's deadline, on the caller's cancellation, or when stdout
passes its cap: everything gets SIGTERM, then SIGKILL after a grace period; the pipes are
drained and every process reaped before the run returns, so no process, zombie, open pipe
or task outlives the call. The readers run as plain tasks, not in a ``TaskGroup``: on
Python 3.11 a group whose child fails after its body has ended leaves the caller's task
with a cancel request nobody takes back, and the caller's next deadline then raises a raw
``CancelledError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import signal
import socket
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

__all__ = ["Finished", "OutputTooLarge", "run"]

_CHUNK = 65536
# After SIGKILL the pipes close at once; this only bounds a pathological case (a process
# that escaped while holding our pipe) so cleanup can never hang the caller.
_DRAIN_LIMIT = 1.0
_REAPER = str(Path(__file__).with_name("reaper.py"))
_USE_REAPER = sys.platform.startswith("linux") and bool(sys.executable)
# The helper's own bound on killing an unkillable descendant, plus margin; past it the
# helper itself is killed.
_REAPER_SLACK = 7.0
_POLL = 0.01


class OutputTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"standard output exceeded {limit} bytes")
        self.limit = limit


@attrs.frozen
class Finished:
    """A program that ran to its end."""

    status: int  # negative: killed by that signal
    stdout: bytes
    stderr: bytes  # the last ``max_stderr`` bytes
    stderr_dropped: int  # bytes of stderr discarded from the front


async def _read_capped(stream: asyncio.StreamReader, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await stream.read(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise OutputTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_tail(stream: asyncio.StreamReader, keep: int) -> tuple[bytes, int]:
    # Diagnostics are kept, the oldest dropped: the end of stderr usually says what failed.
    tail = bytearray()
    dropped = 0
    while chunk := await stream.read(_CHUNK):
        tail += chunk
        if len(tail) > keep:
            excess = len(tail) - keep
            del tail[:excess]
            dropped += excess
    return bytes(tail), dropped


async def _feed(stream: asyncio.StreamWriter, data: bytes) -> None:
    # A program may exit without reading its input; that is its business, not an error.
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        stream.write(data)
        await stream.drain()
    stream.close()


async def _drain(stream: asyncio.StreamReader | None) -> None:
    if stream is None:
        return
    while await stream.read(_CHUNK):
        pass


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


@attrs.define
class _Child:
    """The process started for one run: the reaper helper, or the program itself."""

    proc: asyncio.subprocess.Process
    #: the helper's answers (None: the program runs directly)
    channel: asyncio.StreamReader | None
    writer: asyncio.StreamWriter | None
    grace: float

    async def status(self) -> int:
        """The program's exit status once it and everything it started are gone."""
        await self.proc.wait()
        if self.channel is None:
            assert self.proc.returncode is not None
            return self.proc.returncode
        word, _, value = (await self.channel.readline()).decode().partition(" ")
        if word != "exit" or not value.strip().lstrip("-").isdigit():
            raise OSError(f"the process reaper ended without the program's status ({word!r})")
        return int(value)

    async def stop(self) -> None:
        """End the program and everything it started; reap; drain the pipes."""
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        # Drained from the start: on Python 3.11 ``Process.wait`` returns only once the
        # pipes are at EOF, and a full pipe nobody reads would stall the program's exit.
        drain = asyncio.ensure_future(
            asyncio.gather(_drain(self.proc.stdout), _drain(self.proc.stderr))
        )
        pgid = self.proc.pid  # a session leader: its pid is the group id
        try:
            if self.channel is None:
                _signal_group(pgid, signal.SIGTERM)
                await self._wait(self.grace)
            else:
                # The helper does SIGTERM, the grace period and SIGKILL for every descendant.
                with contextlib.suppress(ProcessLookupError):
                    self.proc.send_signal(signal.SIGTERM)
                await self._wait(self.grace + _REAPER_SLACK)
            # Also reaches group members that outlived their leader, or a stuck helper.
            _signal_group(pgid, signal.SIGKILL)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(drain), _DRAIN_LIMIT)
        finally:
            drain.cancel()
            await asyncio.gather(drain, return_exceptions=True)
        # Not ``proc.wait()``: a pipe held open by a process that escaped (possible only
        # without the helper) would keep it waiting; the exit status itself comes at once.
        while self.proc.returncode is None:
            await asyncio.sleep(_POLL)
        self.close()

    async def _wait(self, seconds: float) -> None:
        # Real time on purpose: the grace is for a real process, and a virtual clock would
        # jump past it whenever the event loop idles.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.proc.wait(), seconds)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _request(argv: Sequence[str], cwd: str | None, env: Mapping[str, str], grace: float) -> bytes:
    """The helper's request: NUL-separated fields (see reaper.py)."""
    fields = [
        repr(float(grace)),
        str(os.getpid()),
        cwd or "",
        str(len(argv)),
        *argv,
        *(f"{name}={value}" for name, value in env.items()),
    ]
    encoded = [os.fsencode(field) for field in fields]
    if any(b"\0" in field for field in encoded):
        # No argv item or environment variable can hold one; the framing relies on it.
        raise OSError(errno.EINVAL, "an argument or environment value contains a NUL byte")
    return b"\0".join(encoded)


async def _start(
    argv: Sequence[str], stdin: bool, cwd: str | None, env: Mapping[str, str], grace: float
) -> _Child:
    pipe, devnull = asyncio.subprocess.PIPE, asyncio.subprocess.DEVNULL
    if not _USE_REAPER:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=pipe if stdin else devnull,
            stdout=pipe,
            stderr=pipe,
            cwd=cwd,
            env=dict(env),
            start_new_session=True,
        )
        return _Child(proc, None, None, grace)
    request = _request(argv, cwd, env, grace)
    ours, theirs = socket.socketpair()
    try:
        # The helper gets the program's environment, no more: the program could read its
        # parent's environment from /proc. -I -S: no site, no PYTHON* variables, no cwd.
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-I",
            "-S",
            _REAPER,
            str(theirs.fileno()),
            stdin=pipe if stdin else devnull,
            stdout=pipe,
            stderr=pipe,
            env=dict(env),
            pass_fds=(theirs.fileno(),),
            start_new_session=True,
        )
    except BaseException:
        ours.close()
        raise
    finally:
        theirs.close()
    reader, writer = await asyncio.open_connection(sock=ours)
    child = _Child(proc, reader, writer, grace)
    try:
        writer.write(request)
        writer.write_eof()
        word, _, value = (await reader.readline()).decode().partition(" ")
    except BaseException:
        await _run_to_end(asyncio.ensure_future(child.stop()))
        raise
    if word == "pid":
        return child
    await child.stop()
    number = int(value) if word == "error" and value.strip().isdigit() else 0
    raise OSError(number, os.strerror(number) if number else "the program did not start", argv[0])


async def _run_to_end(task: asyncio.Future[None]) -> None:
    """Await ``task`` to completion even if we are cancelled meanwhile, then re-raise."""
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.done():
                break
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
    task.result()


async def _abandon(tasks: Sequence[asyncio.Future[Any]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def run(
    argv: Sequence[str],
    *,
    stdin: bytes | None,
    cwd: str | None,
    env: Mapping[str, str],
    max_output: int,
    max_stderr: int,
    grace: float,
) -> Finished:
    """Run ``argv`` (no shell) to its end, or stop it and everything it started and re-raise."""
    child = await _start(argv, stdin is not None, cwd, env, grace)
    proc = child.proc
    assert proc.stdout is not None and proc.stderr is not None
    out = asyncio.ensure_future(_read_capped(proc.stdout, max_output))
    err = asyncio.ensure_future(_read_tail(proc.stderr, max_stderr))
    status = asyncio.ensure_future(child.status())
    tasks: list[asyncio.Future[Any]] = [out, err, status]
    if stdin is not None:
        assert proc.stdin is not None
        tasks.append(asyncio.ensure_future(_feed(proc.stdin, stdin)))
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            failure = task.exception()
            if failure is not None:
                # One reader failed (output over its cap): the rest are moot.
                raise failure
    except BaseException:

        async def cleanup() -> None:
            await _abandon(tasks)
            await child.stop()

        await _run_to_end(asyncio.ensure_future(cleanup()))
        raise
    child.close()
    tail, dropped = err.result()
    return Finished(status.result(), out.result(), tail, dropped)
