"""A call's outgoing HTTP requests carry its W3C trace context, so a traced server's spans
nest under the call's span (through core's ``patchwire_request_headers`` hook)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, ClassVar

import pytest
from aiohttp import web
from opentelemetry import trace
from patchwire.connector import Attempt, Capability, Connector
from patchwire.hookspecs import hookimpl
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.types import Completion, CompletionRequest

pytestmark = pytest.mark.integration  # real HTTP on loopback, real clock

Telemetry = Any  # the conftest fixture's value


class Echo(Connector):
    """Sends one GET to ``url`` and answers with the traceparent the server saw."""

    type_name = "echo"
    capabilities = frozenset({Capability.COMPLETE})
    url: ClassVar[str] = ""

    async def complete(self, request: CompletionRequest, attempt: Attempt) -> Completion:
        async with attempt.session.get(self.url, headers=attempt.headers) as response:
            return Completion(text=await response.text(), model=request.model)


class EchoPlugin:
    @hookimpl
    def patchwire_register_connectors(self, register: Any) -> None:
        register("echo", Echo)


@pytest.fixture
async def echo_server() -> AsyncIterator[str]:
    async def answer(request: web.Request) -> web.Response:
        return web.Response(text=request.headers.get("traceparent", "none"))

    app = web.Application()
    app.router.add_get("/", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/"
    await runner.cleanup()


async def test_a_calls_requests_carry_the_call_spans_trace_context(
    otel_host: PluginHost, telemetry: Telemetry, echo_server: str
) -> None:
    otel_host.register(EchoPlugin(), "echo")
    Echo.url = echo_server
    try:
        async with Hub.from_dict({"connectors": {"echo": {}}}, host=otel_host) as hub:
            with trace.get_tracer("app").start_as_current_span("handle request"):
                reply = await hub.model("echo:model-p").complete("hi")
            outside = await hub.session().get(echo_server)
            after = await outside.text()
    finally:
        otel_host.unregister("echo")
    (call,) = [s for s in telemetry.spans.get_finished_spans() if s.name == "chat model-p"]
    assert call.context is not None
    version, trace_id, parent_id, flags = reply.text.split("-")
    assert version == "00" and int(flags, 16) & 1  # sampled
    assert int(trace_id, 16) == call.context.trace_id
    assert int(parent_id, 16) == call.context.span_id  # the server's parent is the call
    # After the call, nothing is current: the request outside any span carries none.
    assert after == "none"
