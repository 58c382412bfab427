"""The attempt loop keeps the per-attempt timeout per operation for a connector that does
not override ``timeout_for`` (issue 19), and answers as when the stage was always asked.

Invariant: for every connector, operation and request, ``attempt_timeout(rt, operation,
request)`` is ``rt.connector.timeout_for(request) or configured`` (``configured`` the
operation's timeout from the config: ``embed_timeout`` for embeddings, else ``timeout``),
except for ``list_tools``, which always takes ``configured``; and ``rt.times_requests`` is
whether the connector's class (or one between it and the base) overrides ``timeout_for``.
Every attempt of any sequence of calls runs for ``attempt_timeout`` of its own request
(the kept answer never serves a connector that times requests itself).
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.clock import VirtualClock
from patchwire.connector import Attempt, Capability, Connector
from patchwire.hookspecs import hookimpl
from patchwire.hub import Hub
from patchwire.pipeline.stages import attempt_timeout
from patchwire.plugins import PluginHost
from patchwire.types import Completion, CompletionRequest, EmbeddingRequest, Message, ToolRequest


class _Plain(Connector):
    type_name = "plain"
    capabilities = frozenset({Capability.COMPLETE})
    #: (request, seconds the attempt was given) per attempt, of every connector here
    given: ClassVar[list[tuple[CompletionRequest, float | None]]] = []

    async def complete(self, request: CompletionRequest, attempt: Attempt) -> Completion:
        self.given.append((request, attempt.time_left()))
        return Completion("ok", model="m")


class _Inherited(_Plain):
    """Inherits the base's timeout_for through a subclass of its own."""

    type_name = "inherited"


class _Timing(_Plain):
    """Times a request by its model name: none (keep the configured), zero, or seconds."""

    type_name = "timing"

    def timeout_for(self, request: Any) -> float | None:
        name = getattr(request, "model", None) or getattr(request, "operation", "")
        return {"none": None, "zero": 0.0}.get(name, float(len(name)))


class _TimingHeir(_Timing):
    type_name = "timing-heir"


NAMES = ("plain", "inherited", "timing", "timing-heir")


class _Plugin:
    @hookimpl
    def patchwire_register_connectors(self, register: Any) -> None:
        for cls in (_Plain, _Inherited, _Timing, _TimingHeir):
            register(cls.type_name, cls)


def _hub() -> Hub:
    host = PluginHost(load_entry_points=False)
    host.register(_Plugin(), "attempt-timeout")
    connectors = {t: {"type": t, "timeout": 7.0, "embed_timeout": 11.0} for t in NAMES}
    return Hub.from_dict({"connectors": connectors}, host=host, clock=VirtualClock())


HUB = _hub()
names = st.sampled_from(["none", "zero", "", "m", "model-x"])
requests = st.one_of(
    st.builds(CompletionRequest, names, st.just((Message("user", "hi"),))),
    st.builds(EmbeddingRequest, names, st.just(("a",))),
    st.builds(ToolRequest, st.sampled_from(["none", "zero", "tools/call", "x"])),
)


@settings(max_examples=150, deadline=None)
@given(
    name=st.sampled_from(NAMES),
    operation=st.sampled_from(["complete", "embed", "call_tool", "list_tools", "stream"]),
    request=requests,
)
def test_the_attempt_timeout_is_as_when_the_connector_is_always_asked(
    name: str, operation: str, request: Any
) -> None:
    rt = HUB.runtime(name)
    configured = rt.config.embed_timeout if operation == "embed" else rt.config.timeout
    asked = configured if operation == "list_tools" else rt.connector.timeout_for(request)
    assert attempt_timeout(rt, operation, request) == (asked or configured)
    assert rt.times_requests is name.startswith("timing")


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(NAMES), models=st.lists(names.filter(bool), min_size=1, max_size=4))
def test_every_attempt_runs_for_its_own_requests_timeout(name: str, models: list[str]) -> None:
    async def scenario() -> None:
        async with _hub() as hub:
            for model in models:
                await hub.model(f"{name}:{model}").complete("hi")
            rt = hub.runtime(name)
            _Plain.given.clear()
            for model in models:
                await hub.model(f"{name}:{model}").complete("hi")
            assert [left for _, left in _Plain.given] == [
                attempt_timeout(rt, "complete", request) for request, _ in _Plain.given
            ]
            assert [r.model for r, _ in _Plain.given] == models
            assert not rt.timeouts if rt.times_requests else set(rt.timeouts) == {"complete"}

    asyncio.run(scenario())
