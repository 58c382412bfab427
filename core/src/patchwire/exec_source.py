"""The ``exec:PROGRAM ARG…`` secret source: a credential helper's standard output.

This is the pattern of git's and docker's credential helpers, and it reaches every secret
store that has a command-line client: ``exec:vault kv get -field=api_key secret/openai``,
``exec:op read op://team/openai/key``, ``exec:aws secretsmanager get-secret-value …``.

The reference is split into an argv with :func:`shlex.split` and run without a shell, so
no quoting, globbing or redirection in the reference is ever interpreted by one. The
helper's stdin is closed, its environment is the process's own (helpers need their
``VAULT_ADDR``, ``HOME`` and the like), and it runs in its own session so that a helper
that times out is ended together with anything it started.

The value is the helper's stdout with one trailing newline stripped; it is read again every
``ttl`` seconds so a rotated secret is picked up without a restart. A helper is run when
the value is first needed and again when it expires, on the thread that asked, for at most
``timeout`` seconds: keep helpers quick (they usually answer in milliseconds) or give the
value a longer TTL.

Errors name the program and what went wrong (timeout, exit status, empty output) and never
the value. A helper's stderr is included, cut short, because it is how helpers explain a
failure ("permission denied", "not logged in"); stdout never is.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess

import attrs

from patchwire.secrets import SecretNotFound

__all__ = ["ExecSource"]

_STDERR_SHOWN = 200  # characters of a failing helper's stderr put in the error


@attrs.define
class ExecSource:
    scheme: str = "exec"
    ttl: float | None = 300.0
    timeout: float = 10.0

    def load(self, body: str) -> str:
        argv = _argv(body)
        program = argv[0]
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except FileNotFoundError:
            raise SecretNotFound(
                f"credential helper {program!r} was not found; give its full path or put it on PATH"
            ) from None
        except PermissionError:
            raise SecretNotFound(f"credential helper {program!r} is not executable") from None
        except OSError as exc:
            raise SecretNotFound(
                f"credential helper {program!r} could not be started ({exc.strerror})"
            ) from None
        try:
            out, err = proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            raise SecretNotFound(
                f"credential helper {program!r} did not answer within {self.timeout:g} s"
                " (ExecSource.timeout)"
            ) from None
        finally:
            # The session is the helper's alone: whatever it left running (a timed-out
            # helper, or a child it forked and forgot) ends with the lookup.
            _end_session(proc)
        if proc.returncode != 0:
            shown = err.decode("utf-8", "replace").strip()[:_STDERR_SHOWN]
            detail = f": {shown}" if shown else ""
            raise SecretNotFound(
                f"credential helper {program!r} exited with status {proc.returncode}{detail}"
            )
        value = out.decode("utf-8", "replace")
        value = value[:-1] if value.endswith("\n") else value
        value = value[:-1] if value.endswith("\r") else value
        if not value.strip():
            raise SecretNotFound(f"credential helper {program!r} printed nothing on stdout")
        return value


def _argv(body: str) -> list[str]:
    try:
        argv = shlex.split(body)
    except ValueError as exc:
        # shlex's message ("No closing quotation") names the problem, never a value.
        raise SecretNotFound(f"an exec: reference must be a command line: {exc}") from None
    if not argv:
        raise SecretNotFound("an exec: reference names no program (exec:PROGRAM ARG...)")
    return argv


def _end_session(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=1.0)
