"""A provider simulator: a real aiohttp server on loopback that answers in a provider's
wire format, injects faults and enforces rate limits with the provider's own headers.

    async with Simulator("openai", faults=FaultMix(server_error=0.1), seed=7) as sim:
        hub = Hub.from_dict({"connectors": {"openai": {"base_url": sim.base_url}}})

The wire format comes from the plugin that speaks it (``patchwire_register_simulators``),
so core never learns a provider's format. Each request draws its fault, its latency and
a private generator from one seeded generator the moment it arrives, so a run is the
same for the same seed and the same request order. ``GET /stats`` (outside the
provider's path prefix) serves :meth:`Simulator.stats` as JSON. Prompt prefixes a wire
describes (``SimRequest.cache_plan``) are remembered per simulator, per key and model
(:mod:`patchwire.testing.sim_cache`), so replies report the provider's cache reads and
writes.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from types import TracebackType
from typing import TYPE_CHECKING

import attrs
from aiohttp import web

from patchwire.errors import ConfigError
from patchwire.testing.sim_cache import NO_CACHE_USE, CacheUse, PromptCache
from patchwire.testing.sim_content import count_tokens, embedding_vector, reply_text, stream_pieces
from patchwire.testing.sim_faults import FaultKind, FaultMix
from patchwire.testing.sim_limits import (
    LimitBreach,
    LimitKind,
    LimitState,
    SimLimits,
    SimRateLimits,
    WindowState,
)
from patchwire.testing.sim_rich import ToolScript, answer_json, plan_tool_calls, reasoning_for, sign
from patchwire.testing.sim_stats import SimRecord, SimStats, StatsRecorder
from patchwire.testing.sim_steps import broken_answer, context_overflow
from patchwire.testing.sim_wire import (
    ErrorDetail,
    ErrorKind,
    Operation,
    SimReply,
    SimRequest,
    SimResponse,
    SimRoute,
    SimToolCall,
    StreamPlan,
    WireFormat,
    WireRequestError,
)

if TYPE_CHECKING:
    from patchwire.plugins import PluginHost

__all__ = [
    "ErrorDetail",
    "ErrorKind",
    "FaultKind",
    "FaultMix",
    "LimitBreach",
    "LimitKind",
    "LimitState",
    "Operation",
    "SimLimits",
    "SimRecord",
    "SimReply",
    "SimRequest",
    "SimResponse",
    "SimRoute",
    "SimStats",
    "Simulator",
    "StreamPlan",
    "WindowState",
    "WireFormat",
    "WireRequestError",
    "resolve_wire",
]

MAX_REQUEST_BYTES = 64 * 1024 * 1024
NO_FAULTS = FaultMix()
NO_LIMITS = SimLimits()

_FAULT_ERRORS = {
    FaultKind.SERVER_ERROR: ErrorKind.SERVER_ERROR,
    FaultKind.RATE_LIMITED: ErrorKind.RATE_LIMITED,
    FaultKind.QUOTA_EXHAUSTED: ErrorKind.QUOTA_EXHAUSTED,
    FaultKind.OVERLOADED: ErrorKind.OVERLOADED,
}
# Injected errors that come with a wait hint (the wire format decides how it is written).
_HINTED = frozenset({ErrorKind.RATE_LIMITED, ErrorKind.OVERLOADED})


def _within_budget(text: str, max_tokens: int | None) -> tuple[str, bool]:
    """A structured answer cut at ``max_tokens`` as a model would: mid-JSON, marked truncated."""
    if max_tokens is None or count_tokens(text) <= max_tokens:
        return text, False
    return text[: max(1, max_tokens * 4)], True


def resolve_wire(wire: str | WireFormat, plugin_host: PluginHost | None = None) -> WireFormat:
    """The wire format itself, or the one an installed plugin registered under that name."""
    if not isinstance(wire, str):
        return wire
    from patchwire.plugins import default_host

    host = plugin_host or default_host()
    factory = host.registries.simulators.get(wire)
    if factory is None:
        known = ", ".join(sorted(host.registries.simulators)) or "none"
        raise ConfigError(
            f"no simulator named '{wire}' is installed (installed: {known}); a provider"
            " plugin registers its wire format through patchwire_register_simulators"
        )
    made: WireFormat = factory()
    return made


@attrs.define
class _Arrival:
    """What one request drew when it arrived, and what it has become since."""

    path: str
    arrived: float
    fault_draw: float
    rng: random.Random
    request_id: str
    headers: dict[str, str]
    stream: bool = False
    fault: FaultKind | None = None
    limited: str | None = None
    body: bytes = b""
    request: SimRequest | None = None
    reply: SimReply | None = None


class Simulator:
    """A real aiohttp server on loopback speaking one provider's wire format.

    ``keys`` None accepts any credential (or none); otherwise a request whose credential
    is not among them gets the provider's authentication error. ``limits`` are enforced
    per key. ``embedding_dimensions`` overrides the wire format's default vector size
    when a request names none.
    """

    def __init__(
        self,
        wire: str | WireFormat,
        *,
        faults: FaultMix = NO_FAULTS,
        limits: SimLimits = NO_LIMITS,
        seed: int = 0,
        keys: Collection[str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        plugin_host: PluginHost | None = None,
        embedding_dimensions: int | None = None,
        tool_script: ToolScript | None = None,
        context_windows: Mapping[str, int] | None = None,
        break_schema: int = 0,
        stream_pause: float = 0.0,
    ) -> None:
        self.wire = resolve_wire(wire, plugin_host)
        self._tool_script = tool_script
        # Seconds between stream frames: keeps a stream open long enough for a test to
        # leave it early while the server is still writing.
        self._stream_pause = stream_pause
        # tool-loop scripting (patchwire.testing.sim_steps): a request over its model's
        # window is answered as a context overflow; the first ``break_schema`` structured
        # answers break their schema
        self._windows = dict(context_windows or {})
        self._schema_breaks = break_schema
        self.seed = seed
        self.host = host
        self._requested_port = port
        self._port: int | None = None
        self._faults = faults
        self._limits = limits
        self._buckets = SimRateLimits(limits)
        self._keys = frozenset(keys) if keys is not None else None
        self._dimensions = embedding_dimensions
        self._rng = random.Random(seed)
        self._stats = StatsRecorder()
        # Prompt prefixes this simulator has seen (per instance, bounded, on its clock).
        self._prompt_cache = PromptCache()
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()
        self._forced: tuple[ErrorKind, int | None, float | None] | None = None

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        if self._runner is not None:
            return
        app = web.Application(client_max_size=MAX_REQUEST_BYTES)
        prefix = self.wire.prefix.rstrip("/")
        for route in self.wire.routes:
            app.router.add_route(route.method, prefix + route.path, self._endpoint(route))
        app.router.add_get("/stats", self._serve_stats)
        app.router.add_route("*", prefix + "/{tail:.*}", self._not_found)
        # handler_cancellation: a client that gives up ends the handler (a hang included);
        # the short shutdown_timeout keeps aclose from waiting on hangs.
        runner = web.AppRunner(
            app, handler_cancellation=True, shutdown_timeout=0.1, access_log=None
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._requested_port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = int(runner.addresses[0][1])
        self._closing.clear()

    async def aclose(self) -> None:
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._closing.set()
        await runner.cleanup()

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # --- what callers read and change ---------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the simulator is not started: use 'async with' or await start()")
        return self._port

    @property
    def root_url(self) -> str:
        """The server's address without the provider's prefix (``/stats`` lives here)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The provider API's base URL, e.g. ``http://127.0.0.1:54321/v1`` for OpenAI."""
        return self.root_url + self.wire.prefix.rstrip("/")

    @property
    def faults(self) -> FaultMix:
        return self._faults

    @property
    def limits(self) -> SimLimits:
        return self._limits

    def set_faults(self, faults: FaultMix) -> None:
        """Change the fault mix for requests that arrive from now on."""
        self._faults = faults

    def force_error(
        self, kind: ErrorKind | None, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        """Answer every request that parses with the error ``kind`` (None: stop), in the
        wire's shape; ``status`` replaces the wire's status (a 403 for AUTH, a 422 for
        INVALID_REQUEST) and ``retry_after`` is the hint it asks for. The conformance
        suite drives each class of answer through this."""
        self._forced = None if kind is None else (kind, status, retry_after)

    def stats(self) -> SimStats:
        return self._stats.snapshot()

    @property
    def journal(self) -> list[SimRecord]:
        """The most recent requests (up to 10,000), oldest first."""
        return list(self._stats.journal)

    # --- handling one request ------------------------------------------------------------

    def _endpoint(self, route: SimRoute) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self._handle(request, route)

        return handle

    def _arrive(self, request: web.Request) -> tuple[_Arrival, float]:
        # Every draw happens here, before the first await, so arrival order alone decides them.
        fault_draw = self._rng.random()
        latency_draw = self._rng.random()
        rng = random.Random(self._rng.getrandbits(64))
        request_id = f"req_{rng.getrandbits(96):024x}"
        self._stats.arrived(request.path)
        arrival = _Arrival(
            path=request.path,
            arrived=time.monotonic(),
            fault_draw=fault_draw,
            rng=rng,
            request_id=request_id,
            headers=dict(self.wire.headers(request_id)),
        )
        return arrival, self._faults.delay(latency_draw)

    async def _handle(self, request: web.Request, route: SimRoute) -> web.StreamResponse:
        arrival, delay = self._arrive(request)
        body = await request.read()
        arrival.body = body
        if delay > 0:
            await asyncio.sleep(delay)
        key = self.wire.credential(request.headers, request.query)
        if self._keys is not None and key not in self._keys:
            message = "missing credential" if key is None else "unknown credential"
            return self._error(arrival, ErrorKind.AUTH, request, message=message)
        try:
            sim = self.wire.parse(route, body, request.match_info)
        except WireRequestError as exc:
            return self._error(arrival, exc.kind, request, message=exc.message, param=exc.param)
        sim = attrs.evolve(sim, body_size=len(body))
        arrival.stream = sim.stream
        arrival.request = sim
        if self._forced is not None:
            forced, status, hint = self._forced
            return self._error(arrival, forced, request, sim=sim, retry_after=hint, status=status)
        window = self._windows.get(sim.model)
        if window is not None and sim.input_tokens > window:
            return self._overflow(arrival, request, sim, window)
        calls = plan_tool_calls(sim, self._tool_script) if sim.tools else ()
        # Only an answer can break its schema: a turn of tool calls (a run's step before
        # its structured answer) leaves the breaks for the answer.
        answers = sim.operation != "embed" and not calls
        to_break = sim.output_schema if answers and self._schema_breaks > 0 else None
        if not answers:
            text, truncated = "", False
        elif to_break is not None:
            text, truncated = broken_answer(to_break), False
        elif sim.output_schema is not None:
            text, truncated = _within_budget(
                answer_json(sim.output_schema, sim.prompt, sim.model), sim.max_tokens
            )
        else:
            text, truncated = reply_text(sim.prompt, sim.max_tokens)
        if self._limits.enabled:
            refused = self._admit(arrival, key or "", sim, text, request)
            if refused is not None:
                return refused
        faults = self._faults
        arrival.fault = faults.pick(arrival.fault_draw, stream=sim.stream)
        fault = arrival.fault
        kind = _FAULT_ERRORS.get(fault) if fault is not None else None
        if kind is not None:
            hint = faults.retry_after if kind in _HINTED else None
            return self._error(arrival, kind, request, sim=sim, retry_after=hint)
        if fault is FaultKind.RESET:
            self._finish(arrival, None)
            if request.transport is not None:
                request.transport.abort()
            return web.Response()
        if fault is FaultKind.HANG:
            self._finish(arrival, None, answered=False)
            await self._closing.wait()
            if request.transport is not None:
                request.transport.abort()
            return web.Response()
        reply = self._reply(sim, arrival.request_id, text, truncated, calls, self._cached(key, sim))
        arrival.reply = reply
        if to_break is not None and fault is None:
            self._schema_breaks -= 1  # counted when the broken answer is delivered
        if fault is FaultKind.MALFORMED:
            bad = self.wire.malformed(sim, reply, arrival.rng)
            if isinstance(bad, StreamPlan):
                return await self._stream(request, arrival, bad, cut=None, abort=False)
            return self._send(arrival, bad)
        if sim.stream:
            plan = self.wire.stream(sim, reply)
            if fault in (FaultKind.TRUNCATED, FaultKind.BROKEN_STREAM):
                cut = self._cut(len(plan.pieces), arrival.rng)
                abort = fault is FaultKind.BROKEN_STREAM
                return await self._stream(request, arrival, plan, cut=cut, abort=abort)
            self._stats.served(reply.input_tokens, reply.output_tokens)
            return await self._stream(request, arrival, plan, cut=None, abort=False)
        answer = self.wire.success(sim, reply)
        if fault is FaultKind.TRUNCATED:
            return await self._truncated(request, arrival, answer)
        if answer.status < 400:
            self._stats.served(reply.input_tokens, reply.output_tokens)
        return self._send(arrival, answer)

    def _admit(
        self, arrival: _Arrival, key: str, sim: SimRequest, text: str, request: web.Request
    ) -> web.StreamResponse | None:
        # Providers charge the output budget up front when the request names one.
        output = sim.max_tokens if sim.max_tokens is not None else count_tokens(text)
        tokens = sim.input_tokens + (output if sim.operation == "chat" else 0)
        now = time.monotonic()
        breach = self._buckets.admit(key, tokens, now)
        arrival.headers.update(self.wire.limit_headers(self._buckets.state(key, now), time.time()))
        if breach is None:
            return None
        if breach.too_large:
            arrival.limited = "too_large"
            return self._error(arrival, ErrorKind.TOO_LARGE, request, sim=sim, breach=breach)
        arrival.limited = breach.kind.value
        return self._error(
            arrival,
            ErrorKind.RATE_LIMITED,
            request,
            sim=sim,
            breach=breach,
            retry_after=breach.wait,
        )

    def _cached(self, key: str | None, sim: SimRequest) -> CacheUse:
        # The prompt is processed (and its prefixes cached) only once the request got
        # past auth, limits and errors, as a provider bills it. Keys and models never
        # share a cache.
        if sim.cache_plan is None:
            return NO_CACHE_USE
        namespace = f"{key or ''}\x00{sim.model}"
        return self._prompt_cache.use(namespace, sim.cache_plan, sim.input_tokens, time.monotonic())

    def _reply(
        self,
        sim: SimRequest,
        request_id: str,
        text: str,
        truncated: bool,
        calls: tuple[SimToolCall, ...] = (),
        cache: CacheUse = NO_CACHE_USE,
    ) -> SimReply:
        created = int(time.time())
        if sim.operation == "embed":
            dimensions = (
                sim.dimensions or self._dimensions or self.wire.default_dimensions(sim.model)
            )
            vectors = tuple(embedding_vector(t, sim.model, dimensions) for t in sim.inputs)
            return SimReply(request_id, created, input_tokens=sim.input_tokens, vectors=vectors)
        reasoning, reasoning_tokens = reasoning_for(sim.prompt, sim.reasoning)
        return SimReply(
            request_id,
            created,
            text=text,
            truncated=truncated,
            pieces=stream_pieces(text),
            input_tokens=sim.input_tokens,
            output_tokens=count_tokens(text) + sum(count_tokens(c.arguments) for c in calls),
            tool_calls=calls,
            reasoning=reasoning,
            reasoning_tokens=reasoning_tokens,
            signature=sign(reasoning) if reasoning else "",
            cache=cache,
        )

    @staticmethod
    def _cut(pieces: int, rng: random.Random) -> int:
        """How many pieces a cut stream delivers: at least one, fewer than all when it can."""
        if pieces <= 1:
            return pieces
        return 1 + rng.randrange(pieces - 1)

    # --- writing answers -----------------------------------------------------------------

    def _finish(
        self,
        arrival: _Arrival,
        status: int | None,
        *,
        retry_after: float | None = None,
        answered: bool = True,
    ) -> None:
        self._stats.record(
            SimRecord(
                path=arrival.path,
                arrived=arrival.arrived,
                answered=time.monotonic() if answered else None,
                status=status,
                fault=arrival.fault.value if arrival.fault is not None else None,
                limited=arrival.limited,
                retry_after=retry_after,
                stream=arrival.stream,
                request_id=arrival.request_id,
                body=arrival.body,
                request=arrival.request,
                reply=arrival.reply if status is not None and status < 400 else None,
            )
        )

    def _error(
        self,
        arrival: _Arrival,
        kind: ErrorKind,
        request: web.Request,
        *,
        sim: SimRequest | None = None,
        message: str = "",
        param: str | None = None,
        retry_after: float | None = None,
        breach: LimitBreach | None = None,
        status: int | None = None,
    ) -> web.Response:
        detail = ErrorDetail(
            kind=kind,
            rng=arrival.rng,
            request_id=arrival.request_id,
            now_wall=time.time(),
            request=sim,
            message=message,
            param=param,
            retry_after=retry_after,
            breach=breach,
            method=request.method,
            path=request.path,
        )
        answer = self.wire.error(detail)
        if status is not None:
            answer = attrs.evolve(answer, status=status)
        return self._send(arrival, answer)

    def _overflow(
        self, arrival: _Arrival, request: web.Request, sim: SimRequest, window: int
    ) -> web.Response:
        detail = ErrorDetail(
            kind=ErrorKind.INVALID_REQUEST,
            rng=arrival.rng,
            request_id=arrival.request_id,
            now_wall=time.time(),
            request=sim,
            method=request.method,
            path=request.path,
        )
        return self._send(arrival, context_overflow(self.wire, detail, window))

    def _send(self, arrival: _Arrival, answer: SimResponse) -> web.Response:
        self._finish(arrival, answer.status, retry_after=answer.retry_after)
        headers = {**arrival.headers, **answer.headers, "Content-Type": answer.content_type}
        return web.Response(status=answer.status, body=answer.body, headers=headers)

    async def _stream(
        self,
        request: web.Request,
        arrival: _Arrival,
        plan: StreamPlan,
        *,
        cut: int | None,
        abort: bool,
    ) -> web.StreamResponse:
        headers = {
            **arrival.headers,
            **plan.headers,
            "Content-Type": plan.content_type,
            "Cache-Control": "no-cache",
        }
        response = web.StreamResponse(status=200, headers=headers)
        await response.prepare(request)
        frames = plan.head + (plan.pieces if cut is None else plan.pieces[:cut])
        if cut is None:
            frames += plan.tail
        for frame in frames:
            await response.write(frame)
            if self._stream_pause:
                await asyncio.sleep(self._stream_pause)
        self._finish(arrival, 200)
        if abort:
            # close() sends what is buffered, then drops the connection mid-body.
            if request.transport is not None:
                request.transport.close()
            return response
        await response.write_eof()
        return response

    async def _truncated(
        self, request: web.Request, arrival: _Arrival, answer: SimResponse
    ) -> web.StreamResponse:
        headers = {**arrival.headers, **answer.headers, "Content-Type": answer.content_type}
        response = web.StreamResponse(status=answer.status, headers=headers)
        response.content_length = len(answer.body)
        await response.prepare(request)
        await response.write(answer.body[: len(answer.body) // 2])
        self._finish(arrival, answer.status)
        if request.transport is not None:
            request.transport.close()
        return response

    # --- outside the provider's API ----------------------------------------------------

    async def _serve_stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats().to_dict())

    async def _not_found(self, request: web.Request) -> web.StreamResponse:
        arrival, _ = self._arrive(request)
        await request.read()
        return self._error(arrival, ErrorKind.NOT_FOUND, request, message="no such endpoint")
