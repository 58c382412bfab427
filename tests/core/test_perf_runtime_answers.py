"""What a connector's runtime answers once for all its attempts (issue 19), against what
asking every time answers.

Invariants: ``rt.limit_key(request) if rt.partitioned else None`` is the connector's own
``limit_key(request)`` for every connector and request (the base class answers None); the
attempt's TLS context ``rt.ssl if (tls := rt.fixed_ssl) is ROTATES else tls`` is
``rt.ssl``, read anew for a context that may rotate; a call without content observers is told nothing,
and one with an observer is told its prompt and reply.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire import content
from patchwire.clock import VirtualClock
from patchwire.connector import Attempt, Capability, Connector
from patchwire.hookspecs import hookimpl
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.runtime import ROTATES, ConnectorRuntime
from patchwire.types import (
    Completion,
    CompletionRequest,
    EmbeddingRequest,
    Message,
    StreamChunk,
    ToolRequest,
)


class _Plain(Connector):
    type_name = "plain"
    capabilities = frozenset({Capability.COMPLETE, Capability.STREAM})

    async def complete(self, request: CompletionRequest, attempt: Attempt) -> Completion:
        return Completion("ok", model="m")

    async def stream(
        self, request: CompletionRequest, attempt: Attempt
    ) -> AsyncIterator[StreamChunk]:
        yield StreamChunk("ok", finish_reason="stop")


class _Inherited(_Plain):
    """Inherits the base's limit_key through a subclass of its own."""

    type_name = "inherited"


class _Partitioned(_Plain):
    type_name = "partitioned"

    def limit_key(self, request: Any) -> str | None:
        return getattr(request, "model", None) or "none"


class _Plugin:
    @hookimpl
    def patchwire_register_connectors(self, register: Any) -> None:
        for cls in (_Plain, _Inherited, _Partitioned):
            register(cls.type_name, cls)


def _hub() -> Hub:
    host = PluginHost(load_entry_points=False)
    host.register(_Plugin(), "runtime-answers")
    connectors = {t: {"type": t} for t in ("plain", "inherited", "partitioned")}
    return Hub.from_dict({"connectors": connectors}, host=host, clock=VirtualClock())


HUB = _hub()
requests = st.one_of(
    st.builds(CompletionRequest, st.text(max_size=5), st.just((Message("user", "hi"),))),
    st.builds(EmbeddingRequest, st.text(max_size=5), st.just(("a",))),
    st.builds(ToolRequest, st.text(min_size=1, max_size=5)),
)


@settings(max_examples=100, deadline=None)
@given(name=st.sampled_from(["plain", "inherited", "partitioned"]), request=requests)
def test_the_kept_partition_answer_is_the_connectors_own(name: str, request: Any) -> None:
    rt = HUB.runtime(name)
    fast = rt.connector.limit_key(request) if rt.partitioned else None
    assert fast == rt.connector.limit_key(request)
    assert rt.partitioned is (name == "partitioned")


class _Rotating:
    """A client certificate's context that changes between attempts (as ClientTls may)."""

    def __init__(self) -> None:
        self.handed: list[ssl.SSLContext] = []

    def current(self) -> ssl.SSLContext:
        self.handed.append(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
        return self.handed[-1]


def _runtime(tls: Any) -> ConnectorRuntime:
    rt = HUB.runtime("plain")
    return ConnectorRuntime(
        rt.config,
        rt.connector,
        rt.auth,
        tls,
        rt.clock,
        rt.emit,
        rt.cache,
        None,
        rt.rng,
    )


def _attempts_tls(rt: ConnectorRuntime) -> ssl.SSLContext | None:
    """What the attempt loop hands an attempt (pipeline/attempts.py)."""
    return rt.ssl if (tls := rt.fixed_ssl) is ROTATES else tls


def test_the_attempts_tls_context_is_the_runtimes() -> None:
    fixed = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    for tls in (None, fixed):
        rt = _runtime(tls)
        assert rt.fixed_ssl is not ROTATES
        assert _attempts_tls(rt) is rt.ssl is tls
    rotating = _Rotating()
    rt = _runtime(rotating)
    assert rt.fixed_ssl is ROTATES
    first = _attempts_tls(rt)
    second = _attempts_tls(rt)
    assert [first, second] == rotating.handed and first is not second


class _Observer:
    def __init__(self) -> None:
        self.told: list[tuple[str, int]] = []

    def prompt(self, call_id: int, messages: Any, redact: Any) -> None:
        self.told.append(("prompt", call_id))

    def reply(self, call_id: int, reply: Any, redact: Any) -> None:
        self.told.append(("reply", call_id))


async def test_content_observers_are_told_only_when_registered() -> None:
    async with _hub() as hub:
        model = hub.model("plain:m")
        await model.complete("hi")  # nobody registered: nothing to tell
        observer = _Observer()
        remove = content.observe_content(observer)
        try:
            await model.complete("hi")
            chunks = [c async for c in model.stream("hi")]
        finally:
            remove()
        await model.complete("hi")
    assert chunks
    assert [what for what, _ in observer.told] == ["prompt", "reply", "prompt", "reply"]
    assert observer.told[0][1] == observer.told[1][1] != observer.told[2][1]
