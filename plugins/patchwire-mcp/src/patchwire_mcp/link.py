"""One MCP server, one live session at a time, restarted after its transport is lost.

The SDK's transports and ``ClientSession`` live in anyio task groups, which must be
entered and left by the same task. So each session (a *generation*) has an owner task
that enters the contexts, publishes the connected client, waits to be told to stop and
leaves them. Calls run in their own tasks and share the client; cancelling one of them
(the pipeline does, at an attempt's deadline) sends the server a cancellation for that
request and leaves the session to the others.

A generation is *retired* when its transport is known lost (a call saw the connection
close, or the server's stderr reached end of file): new calls start the next generation
at once, and the old one is stopped when its last call has returned, so a late answer
still reaches its caller.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

from patchwire.clock import Clock, Handle

from patchwire_mcp.errors import start_failure
from patchwire_mcp.stderr import StderrPump
from patchwire_mcp.transports import EXCHANGE, HttpExchange

if TYPE_CHECKING:
    from mcp import Client

__all__ = ["Generation", "ServerLink"]

#: the SDK's stdio shutdown (stdin closed, 2 s, SIGTERM, 2 s, SIGKILL) fits well within this
SHUTDOWN_TIMEOUT = 10.0
#: how long a failed start waits for the server's last stderr lines before reporting
_STDERR_SETTLE = 0.5


class Generation:
    """One session with the server, from start to stop."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.ready: asyncio.Future[Client | None] = asyncio.get_running_loop().create_future()
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.inflight = 0
        self.retired = False
        self.failure: BaseException | None = None
        self.timed_out = False
        #: whether a caller has been told why the start failed
        self.reported = False
        self.stderr: StderrPump | None = None
        self.exchange = HttpExchange()

    @property
    def unreported_failure(self) -> bool:
        ready = self.ready
        return ready.done() and ready.result() is None and not self.reported

    @property
    def stderr_tail(self) -> list[str]:
        return list(self.stderr.tail) if self.stderr is not None else []

    def __repr__(self) -> str:
        state = "retired" if self.retired else "live"
        return f"<Generation {self.number} {state} inflight={self.inflight}>"


class ServerLink:
    """Hands out the live session, starting (or restarting) the server when there is none.

    ``open_transport(generation)`` returns the transport's context manager; a stdio
    transport sets ``generation.stderr``. ``on_start`` runs when a new generation begins
    (the connector forgets what the previous server said about its tools).
    """

    def __init__(
        self,
        name: str,
        open_transport: Callable[[Generation], AbstractAsyncContextManager[Any]],
        *,
        mode: str,
        clock: Clock,
        startup_timeout: float,
        log: logging.Logger,
        on_start: Callable[[], None] = lambda: None,
        client_options: Callable[[], Mapping[str, Any]] = dict,
    ) -> None:
        self.name = name
        self._open_transport = open_transport
        #: the configured mode; ``_mode`` is what the next session uses (see _remember_era)
        self._configured_mode = mode
        self._mode = mode
        self._clock = clock
        self._startup_timeout = startup_timeout
        self._log = log
        self._on_start = on_start
        #: the SDK client's callbacks (elicitation, roots, ...), read at each start
        self._client_options = client_options
        self._numbers = itertools.count(1)
        self._current: Generation | None = None
        self._generations: set[Generation] = set()

    @property
    def current(self) -> Generation | None:
        return self._current

    async def prepare(self) -> bool:
        """Start the server if none runs and wait for its handshake; True when it is ready.

        A failure is kept for the next :meth:`acquire` to report, so that preparing (as
        ``Connector.open`` does, outside any attempt) does not make the first call start
        a server that just failed to start a second time.
        """
        client = await asyncio.shield(self._live().ready)
        return client is not None

    async def acquire(self) -> tuple[Generation, Client]:
        """The live session, counted as in use until :meth:`release`."""
        generation = self._live()
        # Shielded: a caller cancelled while the server starts must not stop the start.
        client = await asyncio.shield(generation.ready)
        if client is None:
            generation.reported = True
            raise self._start_error(generation)
        generation.inflight += 1
        return generation, client

    def _live(self) -> Generation:
        """The current generation, or a new one when it is gone (and its failure was told)."""
        generation = self._current
        if generation is None or (generation.retired and not generation.unreported_failure):
            generation = self._start()
        return generation

    def release(self, generation: Generation) -> None:
        generation.inflight -= 1
        if generation.retired and generation.inflight == 0:
            generation.stop.set()

    def retire(self, generation: Generation) -> None:
        if not generation.retired:
            self._log.info("MCP server '%s': session %d lost", self.name, generation.number)
        generation.retired = True
        if generation.inflight == 0:
            generation.stop.set()

    async def aclose(self) -> None:
        generations = list(self._generations)
        self._current = None
        for generation in generations:
            generation.retired = True
            generation.stop.set()
            if not generation.ready.done() and generation.task is not None:
                # Still starting: nobody will use it, so do not wait for its handshake.
                generation.task.cancel()
        tasks = [g.task for g in generations if g.task is not None]
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=SHUTDOWN_TIMEOUT)
        for task in pending:
            self._log.warning("MCP server '%s' did not shut down in time; abandoning it", self.name)
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=1.0)

    # --- the owner of one generation ---------------------------------------------------------

    def _start(self) -> Generation:
        generation = Generation(next(self._numbers))
        current = EXCHANGE.get()
        if current is not None:
            # The handshake is sent by the owner task, with the credentials of the call that started it.
            generation.exchange = HttpExchange(
                headers=dict(current.headers), params=dict(current.params)
            )
        self._current = generation
        self._generations.add(generation)
        self._on_start()
        generation.task = asyncio.get_running_loop().create_task(
            self._own(generation), name=f"patchwire-mcp:{self.name}#{generation.number}"
        )
        return generation

    def _expire_start(self, generation: Generation) -> None:
        if not generation.ready.done() and generation.task is not None:
            generation.timed_out = True
            generation.task.cancel()

    async def _own(self, generation: Generation) -> None:
        from mcp import Client, Implementation

        EXCHANGE.set(generation.exchange)
        watchdog: Handle = self._clock.call_at(
            self._clock.now() + self._startup_timeout, lambda: self._expire_start(generation)
        )
        try:
            transport = self._open_transport(generation)
            async with Client(
                transport,
                mode=self._mode,
                cache=None,
                client_info=Implementation(name="patchwire-mcp", version="0.1.0"),
                **self._client_options(),
            ) as client:
                watchdog.cancel()
                self._remember_era(client.protocol_version)
                self._log.info(
                    "MCP server '%s': session %d open (protocol %s)",
                    self.name,
                    generation.number,
                    client.protocol_version,
                )
                generation.ready.set_result(client)
                await generation.stop.wait()
        except asyncio.CancelledError:
            # Only the start watchdog and aclose cancel an owner; either way it is done.
            pass
        except Exception as exc:
            generation.failure = exc
            # The server may have changed era since: the next start probes afresh.
            self._mode = self._configured_mode
        finally:
            watchdog.cancel()
            generation.retired = True
            stderr = generation.stderr
            if not generation.ready.done():
                if stderr is not None and not generation.timed_out:
                    # Let the last lines (a traceback, a usage message) arrive to explain the failure.
                    await stderr.wait_eof(_STDERR_SETTLE)
                generation.ready.set_result(None)
            if stderr is not None:
                await stderr.aclose()
            self._generations.discard(generation)

    def _remember_era(self, version: str) -> None:
        """Probe once per server: with ``protocol = "auto"``, later sessions (restarts) go
        straight to what this one negotiated, with no ``server/discover`` first."""
        if self._configured_mode != "auto":
            return
        from mcp_types.version import MODERN_PROTOCOL_VERSIONS

        self._mode = version if version in MODERN_PROTOCOL_VERSIONS else "legacy"

    def _start_error(self, generation: Generation) -> Exception:
        if generation.exchange.auth_failure is not None:
            return generation.exchange.auth_failure
        return start_failure(
            self.name,
            generation.failure,
            timed_out=self._startup_timeout if generation.timed_out else None,
            stdio=generation.stderr is not None,
            stderr=generation.stderr_tail,
            response=generation.exchange.error,
            from_body=generation.exchange.jsonrpc_body,
            method=generation.exchange.method,
        )
