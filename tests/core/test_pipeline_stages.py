"""The pipeline's stages (patchwire.pipeline.stages) and what a call costs in flight.

The retry stage decides from values alone, so its bounds are hypothesis properties; the
cost tests hold the hot path to what issue 19 measured: no closure built per call and no
wrapper coroutine between a completion and its connector.
"""

from __future__ import annotations

import asyncio
import gc
import types
from typing import Any, ClassVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from patchwire.classification import Classification
from patchwire.clock import VirtualClock
from patchwire.connector import Attempt, Capability, Connector
from patchwire.errors import Category, PatchwireError
from patchwire.hookspecs import hookimpl
from patchwire.hub import Hub
from patchwire.pipeline import Target
from patchwire.pipeline.stages import MOVE_ON, retry_delay
from patchwire.plugins import PluginHost
from patchwire.types import Completion, CompletionRequest, Usage

PROPS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


class Parked(Connector):
    """Answers each call once the test opens its gate, so calls can be held in flight."""

    type_name = "parked"
    capabilities = frozenset({Capability.COMPLETE})
    gate: ClassVar[asyncio.Event | None] = None
    parked: ClassVar[list[asyncio.Task[Any]]] = []

    async def complete(self, request: CompletionRequest, attempt: Attempt) -> Completion:
        task = asyncio.current_task()
        assert task is not None and Parked.gate is not None
        Parked.parked.append(task)
        await Parked.gate.wait()
        return Completion(text="ok", usage=Usage(3, 1), model="m")


class ParkedPlugin:
    @hookimpl
    def patchwire_register_connectors(self, register: Any) -> None:
        register("parked", Parked)


def _hub(clock: VirtualClock, **table: Any) -> Hub:
    host = PluginHost(load_entry_points=False)
    host.register(ParkedPlugin(), "parked")
    connectors = {"p": {"type": "parked", "timeout": 3600, **table}}
    return Hub.from_dict({"connectors": connectors}, host=host, clock=clock, seed=3)


async def _in_flight(hub: Hub, n: int) -> list[asyncio.Task[Any]]:
    """Start ``n`` completions and return once every one is inside the connector."""
    Parked.gate, Parked.parked = asyncio.Event(), []
    model = hub.model("p:m")
    tasks = [asyncio.ensure_future(model.complete("hi")) for _ in range(n)]
    while len(Parked.parked) < n:
        await asyncio.sleep(0)
    return tasks


def _pipeline_code(code: types.CodeType) -> bool:
    return "/patchwire/pipeline" in code.co_filename.replace("\\", "/")


async def test_a_completion_in_flight_holds_no_function_the_pipeline_made() -> None:
    """Issue 19: the pipeline builds no closure or lambda per call (a cache-less route)."""
    hub = _hub(VirtualClock())
    async with hub:
        first = await _in_flight(hub, 1)  # the first call may fill per-connector caches
        assert Parked.gate is not None
        Parked.gate.set()
        await asyncio.gather(*first)
        gc.collect()
        before = {id(f) for f in gc.get_objects() if isinstance(f, types.FunctionType)}
        tasks = await _in_flight(hub, 50)
        made = [
            f
            for f in gc.get_objects()
            if isinstance(f, types.FunctionType)
            and id(f) not in before
            and _pipeline_code(f.__code__)
        ]
        Parked.gate.set()
        replies = await asyncio.gather(*tasks)
    assert [r.text for r in replies] == ["ok"] * 50
    assert made == []


async def test_a_completion_reaches_its_connector_through_two_pipeline_coroutines() -> None:
    """Issue 19: complete ─ attempts, then the connector's own coroutine: no wrapper layer
    for the cache, the budgets, the operation, the transforms (until a failure) or a route
    of one target."""
    hub = _hub(VirtualClock())
    async with hub:
        tasks = await _in_flight(hub, 1)
        chain: list[str] = []
        coro: Any = tasks[0].get_coro()
        while isinstance(coro, types.CoroutineType):
            if _pipeline_code(coro.cr_code):
                chain.append(coro.cr_code.co_qualname)
            coro = coro.cr_await
        assert Parked.gate is not None
        Parked.gate.set()
        await asyncio.gather(*tasks)
    assert chain == ["Pipeline.complete", "Attempts.run"]


# What a classifier can say of a failed attempt (config errors never reach an attempt).
categories = st.sampled_from([c for c in Category if c is not Category.CONFIG])
time_left = st.one_of(st.none(), st.floats(0, 120, allow_nan=False))


@PROPS
@given(
    category=categories,
    attempt=st.integers(1, 8),
    left=time_left,
    previous=st.one_of(st.none(), st.floats(0, 30, allow_nan=False)),
    has_next=st.booleans(),
    retry_after=st.one_of(st.none(), st.floats(0, 90, allow_nan=False)),
)
def test_retry_delay_fits_the_time_left_and_moves_on_only_when_the_route_can(
    category: Category,
    attempt: int,
    left: float | None,
    previous: float | None,
    has_next: bool,
    retry_after: float | None,
) -> None:
    """A delay is never negative nor past the time left; a failure the route should move
    on from (degraded, open circuit, exhausted quota) with a next target is never retried;
    an error marked to move on is one of those or a wait the deadline cannot hold; every
    error names its target and the attempts made."""
    hub = _hub(VirtualClock(), retry={"max_attempts": 5})
    rt = hub.runtime("p")
    target = Target(rt, "m")
    cls = Classification(category, "failed", retry_after=retry_after)
    try:
        delay = retry_delay(rt, target, cls, attempt, left, previous, has_next)
    except PatchwireError as err:
        assert err.category is category
        assert (err.connector, err.model, err.attempts) == ("p", "m", attempt)
        if err.fallback:
            assert category in MOVE_ON or "past the call's deadline" in err.message
        assert not (category in MOVE_ON and has_next) or err.fallback
        return
    assert not (category in MOVE_ON and has_next)
    assert delay >= 0
    assert left is None or delay <= left
