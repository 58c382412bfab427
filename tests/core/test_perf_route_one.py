"""A route of one target (issue 19): ``route`` hands back the target's attempt loop itself
(``Attempts.run``) instead of a coroutine of its own around it, and ``Pipeline.complete``
awaits it without ``_complete_route``'s, which takes over only after a failure.

Invariant: for any sequence of attempt outcomes, a call through the fast path ends as the
same call through the loop over every target (``through_targets``) ends: the same reply
or error (type, category, message, connector, model, attempts, fallback mark, retry hint),
the same events and the same requests sent, on the virtual clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from patchwire.clock import VirtualClock
from patchwire.errors import (
    AuthError,
    DegradedError,
    IntegrationError,
    InvalidRequestError,
    PatchwireError,
    QuotaExhaustedError,
    RateLimitedError,
    TransientError,
)
from patchwire.events import Event
from patchwire.hub import Hub
from patchwire.pipeline import calls, route, streaming
from patchwire.plugins import PluginHost
from patchwire.testing import Delay, FakeConnector, FakeScript
from patchwire.testing.fake import FakePlugin

PROPS = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
HOST = PluginHost(load_entry_points=False)
HOST.register(FakePlugin(), "fake")


def _marked() -> PatchwireError:
    """A connector's error already marked to move on: it leaves the attempt loop as it is,
    and the route names its target on it."""
    err = TransientError("moved on")
    err.fallback = True
    return err


# Each outcome made anew for every run: a route names its target on the error it raises.
OUTCOMES: dict[str, Any] = {
    "ok": lambda: "ok",
    "transient": lambda: TransientError("t"),
    "degraded": lambda: DegradedError("d"),
    "rate-limited": lambda: RateLimitedError("r", retry_after=2.0),
    "invalid": lambda: InvalidRequestError("bad"),
    "auth": lambda: AuthError("auth", status=401),
    "quota": lambda: QuotaExhaustedError("quota"),
    "integration": lambda: IntegrationError("shape"),
    "slow": lambda: Delay(2.0, "ok"),
    "too-slow": lambda: Delay(50.0, "ok"),  # longer than the attempt timeout
    "marked": _marked,
}
outcomes = st.lists(st.sampled_from(sorted(OUTCOMES)), max_size=6)


@contextmanager
def plain(on: bool) -> Iterator[None]:
    """With ``on``, every route goes through the loop over its targets."""
    if not on:
        yield
        return
    with (
        mock.patch.object(calls, "route", route.through_targets),
        mock.patch.object(streaming, "route", route.through_targets),
    ):
        yield


def _error(err: PatchwireError) -> tuple[Any, ...]:
    return (
        type(err),
        err.category,
        err.message,
        err.connector,
        err.model,
        err.attempts,
        err.fallback,
        err.retry_after,
        err.status,
    )


def _event(event: Event) -> tuple[Any, ...]:
    return (
        event.kind,
        event.connector,
        event.model,
        event.time,
        event.attempt,
        event.category,
        event.message,
        event.retries,
        event.duration,
        dict(event.data),
    )


async def _run(script: list[str], attempts: int, timeout: float | None, op: str, on: bool) -> Any:
    FakeConnector.scripts["fake"] = FakeScript().extend(OUTCOMES[o]() for o in script)
    table = {"timeout": 10, "retry": {"max_attempts": attempts, "initial": 1, "cap": 4}}
    hub = Hub.from_dict({"connectors": {"fake": table}}, host=HOST, clock=VirtualClock(), seed=5)
    events: list[Event] = []
    hub.bus.add("t", events.append)
    with plain(on):
        async with hub:
            try:
                if op == "complete":
                    reply = await hub.model("fake:m").complete("hi", timeout=timeout)
                    result: Any = (reply.text, reply.attempts, reply.latency, reply.cost)
                elif op == "stream":
                    chunks = hub.model("fake:m").stream("hi", timeout=timeout)
                    result = [chunk.text async for chunk in chunks]
                else:
                    tool = await hub.tool("fake").call("echo", timeout=timeout, x=1)
                    result = (tool.output, tool.attempts, tool.latency)
            except PatchwireError as err:
                result = _error(err)
    sent = [(c.operation, c.attempt, c.time) for c in FakeConnector.scripts["fake"].calls]
    return result, [_event(e) for e in events], sent


@PROPS
@given(
    script=outcomes,
    attempts=st.integers(1, 4),
    timeout=st.one_of(st.none(), st.floats(1, 60)),
    op=st.sampled_from(["complete", "stream", "tool"]),
)
async def test_a_route_of_one_target_ends_as_the_loop_over_targets(
    script: list[str], attempts: int, timeout: float | None, op: str
) -> None:
    fast = await _run(script, attempts, timeout, op, on=False)
    loop = await _run(script, attempts, timeout, op, on=True)
    assert fast == loop


async def test_the_plain_path_is_the_loop() -> None:
    """The comparison above compares two paths: patched in, the loop serves every route."""
    seen: list[str] = []
    real = route.through_targets

    def spy(*args: Any) -> Any:
        seen.append(args[2])
        return real(*args)

    with mock.patch.object(route, "through_targets", spy):
        await _run(["ok"], 1, None, "complete", on=True)
        await _run(["ok"], 1, None, "stream", on=True)
        await _run(["ok"], 1, None, "complete", on=False)
    assert seen == ["complete", "stream"]


@pytest.mark.parametrize("op", ["complete", "stream", "tool"])
async def test_a_failed_target_is_named_on_its_error(op: str) -> None:
    """A one-target route's error names its target, as the loop's does, also when the
    connector's error left the attempt loop as it was raised."""
    for outcome in ("invalid", "marked"):
        result, _, _ = await _run([outcome], 1, None, op, on=False)
        assert result[3:6] == (
            "fake",
            "m" if op != "tool" else None,
            1 if outcome == "invalid" else 0,
        )
