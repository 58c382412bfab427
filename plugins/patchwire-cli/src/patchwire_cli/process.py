"""Running one program: bounded output, and nothing left behind however the run ends.

The program starts in its own session, so it leads a new process group and everything it
spawns joins that group. Whenever a run ends early (the attempt's deadline, the caller's
cancellation, output over its cap) the whole group gets SIGTERM, then SIGKILL after a
grace period, so a program that ignores SIGTERM, or a child it left running, still dies;
the pipes are drained and the program reaped before the run returns, so no zombie, open
pipe or task outlives the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Mapping, Sequence

import attrs

__all__ = ["Finished", "OutputTooLarge", "run"]

_CHUNK = 65536
# After SIGKILL the pipes close at once; this only bounds a pathological case (a process
# that escaped the group while holding our pipe) so cleanup can never hang the caller.
_DRAIN_LIMIT = 1.0


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


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


async def _drain(stream: asyncio.StreamReader | None) -> None:
    if stream is None:
        return
    while await stream.read(_CHUNK):
        pass


async def _stop(proc: asyncio.subprocess.Process, grace: float) -> None:
    """SIGTERM the group, SIGKILL it after ``grace`` seconds, drain the pipes, reap."""
    pgid = proc.pid  # the leader of its own session: its pid is the group id
    if proc.stdin is not None:
        proc.stdin.close()
    _signal_group(pgid, signal.SIGTERM)
    # Real time on purpose: the grace is for a real process, and a virtual clock would
    # jump past it whenever the event loop idles.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(proc.wait(), grace)
    # Also reaches members that outlived a leader which exited on SIGTERM.
    _signal_group(pgid, signal.SIGKILL)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(
            asyncio.gather(_drain(proc.stdout), _drain(proc.stderr)), _DRAIN_LIMIT
        )
    await proc.wait()


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
    """Run ``argv`` (no shell) to its end, or stop its whole process group and re-raise."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=cwd,
        env=dict(env),
        start_new_session=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    try:
        async with asyncio.TaskGroup() as group:
            out = group.create_task(_read_capped(proc.stdout, max_output))
            err = group.create_task(_read_tail(proc.stderr, max_stderr))
            if stdin is not None:
                assert proc.stdin is not None
                group.create_task(_feed(proc.stdin, stdin))
            group.create_task(proc.wait())
    except BaseException as exc:
        await _run_to_end(asyncio.ensure_future(_stop(proc, grace)))
        if isinstance(exc, BaseExceptionGroup):
            # One reader failed (output over its cap); the rest were cancelled because of it.
            raise exc.exceptions[0] from None
        raise
    tail, dropped = err.result()
    assert proc.returncode is not None
    return Finished(proc.returncode, out.result(), tail, dropped)
