"""A completion's own path asks less per call (issue 19); each shortcut against the plain
path it stands for.

Invariants:
- options: for any arguments and acting principal, a completion runs with what
  ``_options`` answers for them (the shared default instance itself when it is the
  answer), or raises what ``_options`` raises; the acting principal is the one when
  the call starts, not when ``complete`` was called;
- policies: ``rt.unpartitioned.get(model) or rt.policies(model, None)`` is
  ``rt.policies(model, None)`` whatever pairs were asked before, and an attempt carries
  the reporter of ``(model, None)`` on a connector that does not partition;
- send: the attempt loop calls a completion's ``conn.complete(request, attempt)``
  itself, which is what ``COMPLETE.send`` does; every other operation still goes
  through its own ``send``;
- bill: a completion's cost is ``Recorder.bill(target, usage).cost()``, priced or not,
  and goes through it (the HTTP benchmark's no-bill row replaces it);
- twin: a filling is made by calling its twin, which runs object's constructor only;
- cache key: ``key_for`` consults the cache exactly when the call asks for it
  (``cache=True``) or, when it leaves it open, when the connector's own
  ``is_deterministic`` says so, whether the connector keeps the base's rule or not.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any
from unittest import mock

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.cachekey import cache_key
from patchwire.clock import VirtualClock
from patchwire.connector import Attempt
from patchwire.errors import PatchwireError
from patchwire.filling import twin
from patchwire.hookspecs import hookimpl
from patchwire.hub import Hub
from patchwire.model import _options
from patchwire.pipeline.cached import key_for
from patchwire.pipeline.operations import COMPLETE
from patchwire.pipeline.record import Recorder
from patchwire.pipeline.target import Target
from patchwire.plugins import PluginHost
from patchwire.prices import Bill
from patchwire.principals.principal import Principal, acting_for
from patchwire.testing.fake import FakeConnector, FakePlugin
from patchwire.types import CallOptions, Completion, CompletionRequest, Message, Usage

HOST = PluginHost(load_entry_points=False)
HOST.register(FakePlugin(), "fake")
ALICE, BOB = Principal("alice"), Principal("bob")


def _hub(**table: Any) -> Hub:
    # A fresh script: no outcome, default or call left by another test of this file.
    FakeConnector.scripts.pop("perfpath", None)
    config: dict[str, Any] = {
        "connectors": {"perfpath": {"type": "fake", **table}},
        "prices": {"fake:priced": {"input": 1.0, "output": 2.0}},
    }
    return Hub.from_dict(config, host=HOST, clock=VirtualClock())


DEFAULTS: dict[str, Any] = {
    "priority": 0,
    "timeout": None,
    "cache": None,
    "idempotency_key": None,
    "cache_ttl": None,
    "principal": None,
}
OTHERS: dict[str, list[Any]] = {
    "priority": [1, -1, False, 0.0, 2],
    "timeout": [5.0, -1.0],
    "cache": [True, False],
    "idempotency_key": ["k"],
    "cache_ttl": [0, 5.0],
    "principal": [ALICE, "alice"],
}
# Each option off its default alone, and the defaults: the shortcut's border.
ONE_OFF = [{}] + [{name: value} for name, values in OTHERS.items() for value in values]


async def _check_options(given_options: dict[str, Any], acting: Principal | None) -> None:
    handed: list[Any] = []
    real = Recorder.begin

    def spy(self: Recorder, targets: Any, operation: str, options: Any, *rest: Any) -> Any:
        handed.append(options)
        return real(self, targets, operation, options, *rest)

    arguments = {**DEFAULTS, **given_options}
    scope = acting_for(acting) if acting is not None else contextlib.nullcontext()
    with scope:
        try:
            expected: Any = _options(*arguments.values())
        except Exception as exc:  # the arguments' own error
            expected = exc
    async with _hub() as hub:
        model = hub.model("perfpath:m")
        with mock.patch.object(Recorder, "begin", spy), scope:
            try:
                await model.complete("hi", **arguments)
            except PatchwireError as exc:
                assert isinstance(expected, Exception), exc
                assert type(exc) is type(expected) and str(exc) == str(expected)
                assert handed == []
                return
    assert not isinstance(expected, Exception)
    (options,) = handed
    assert options == expected
    if expected is _options(0, None, None, None):
        assert options is expected  # the shared defaults, not a copy


@pytest.mark.parametrize("acting", [None, BOB])
@pytest.mark.parametrize("given_options", ONE_OFF)
async def test_each_option_off_its_default_is_handed_on_as_options_answers(
    given_options: dict[str, Any], acting: Principal | None
) -> None:
    await _check_options(given_options, acting)


@settings(max_examples=80, deadline=None)
@given(
    given_options=st.fixed_dictionaries(
        {}, optional={name: st.sampled_from(values) for name, values in OTHERS.items()}
    ),
    acting=st.sampled_from([None, BOB]),
)
async def test_any_options_are_handed_on_as_options_answers(
    given_options: dict[str, Any], acting: Principal | None
) -> None:
    await _check_options(given_options, acting)


@settings(max_examples=60, deadline=None)
@given(
    asked=st.lists(
        st.tuples(st.sampled_from(["m", "n", "", None]), st.sampled_from([None, "a", "b"])),
        max_size=8,
    ),
    model=st.sampled_from(["m", "n", "", None]),
)
async def test_the_unpartitioned_policies_are_the_runtimes_own(
    asked: list[tuple[str | None, str | None]], model: str | None
) -> None:
    async with _hub(limits={"requests_per_second": 1000.0}) as hub:
        rt = hub.runtime("perfpath")
        for pair in asked:
            rt.policies(*pair)
        fast = rt.unpartitioned.get(model) or rt.policies(model, None)
        assert fast is rt.policies(model, None)
        assert fast[0] is rt.breaker(model) and fast[1] is rt.limiter(None)
        assert fast[2] is rt.report_limits(model, None)


async def test_an_attempt_carries_its_models_own_reporter() -> None:
    async with _hub() as hub:
        rt = hub.runtime("perfpath")
        connector = rt.connector
        assert isinstance(connector, FakeConnector) and not rt.partitioned
        rt.policies("m", "elsewhere")  # another partition's, asked first
        seen: list[Attempt] = []
        connector.script.push(lambda request, attempt: seen.append(attempt) or "ok")
        await hub.model("perfpath:m").complete("hi")
        (attempt,) = seen
        assert attempt.report_limits is rt.report_limits("m", None)
        assert rt.unpartitioned["m"] is rt.policies("m", None)


async def test_complete_send_is_the_connectors_complete() -> None:
    async with _hub() as hub:
        connector = hub.runtime("perfpath").connector
        request = CompletionRequest("m", (Message("user", "hi"),))
        attempt = Attempt(1, hub.clock, None)  # type: ignore[arg-type]
        called: list[tuple[Any, Any]] = []

        async def complete(request: Any, attempt: Any) -> Completion:
            called.append((request, attempt))
            return Completion("ok")

        with mock.patch.object(connector, "complete", complete):
            reply = await COMPLETE.send(connector, request, attempt)
        assert reply == Completion("ok") and called == [(request, attempt)]


async def test_every_operation_reaches_its_own_connector_method() -> None:
    async with _hub() as hub:
        model = hub.model("perfpath:m")
        reply = await model.complete("hi")
        assert reply.text == "echo: hi"
        assert (await model.embed("abc")).vector == (3.0, float(sum(map(ord, "abc")) % 997))
        tool = hub.tool("perfpath")
        assert (await tool.call("op", x=1)).output == {"x": 1}
        assert [info.name for info in await tool.list()] == ["echo"]
        chunks = [chunk.text async for chunk in model.stream("hi")]
        assert "".join(chunks) == "echo: hi"
        connector = hub.runtime("perfpath").connector
        assert isinstance(connector, FakeConnector)
        operations = [call.operation for call in connector.script.calls]
        assert operations == ["complete", "embed", "tool", "stream"]


@settings(max_examples=40, deadline=None)
@given(
    model=st.sampled_from(["priced", "unpriced"]),
    usage=st.builds(Usage, st.integers(0, 10_000), st.integers(0, 10_000)),
)
async def test_a_completions_cost_is_its_bill(model: str, usage: Usage) -> None:
    async with _hub() as hub:
        rt = hub.runtime("perfpath")
        rt.connector.script.default = Completion("ok", usage=usage)  # type: ignore[attr-defined]
        reply = await hub.model(f"perfpath:{model}").complete("hi")
        billed = hub.pipeline._record.bill(Target(rt, model), usage)
    assert reply.cost == billed.cost()
    assert type(reply.cost) is type(billed.cost())
    if model == "priced":
        assert reply.cost == pytest.approx(usage.input_tokens * 1e-6 + usage.output_tokens * 2e-6)


async def test_a_completion_is_billed_through_the_recorder() -> None:
    """benchmarks/guarantee_cost_http.py prices the bill by replacing Recorder.bill: a
    completion billed around it (an inlined price look-up, tried in issue 19) would keep
    the bill in its bare-http row."""
    free = Bill(charges=())
    async with _hub() as hub:
        with mock.patch.object(Recorder, "bill", lambda self, target, usage: free):
            reply = await hub.model("perfpath:priced").complete("hi")
    assert reply.cost == 0.0


def test_a_twin_is_refused_for_a_class_whose_base_brings_a_constructor() -> None:
    """A twin's empty instance is the twin called (types.completion and the others): a
    base's own __init__ or __new__ would run there, so twin refuses such a class."""

    class Based:
        __slots__ = ()

        def __init__(self) -> None:
            raise AssertionError("never run for a filling")

    @attrs.frozen(slots=True)
    class Child(Based):
        text: str

    with pytest.raises(TypeError, match="Based has its own __init__"):
        twin(Child)
    filling = twin(Completion)
    assert filling.__init__ is object.__init__ and filling.__new__ is object.__new__


@pytest.mark.parametrize("params", [{}, {"max_tokens": 5}, {"temperature": 0.5, "stop": ["x"]}])
async def test_the_plainest_call_reads_the_principal_acting_as_it_starts(
    params: dict[str, Any],
) -> None:
    """Model.complete hands back the pipeline's coroutine for the plainest call: it
    behaves as a coroutine of its own did, reading the acting principal as it starts."""
    handed: list[Any] = []
    real = Recorder.begin

    def spy(self: Recorder, targets: Any, operation: str, options: Any, *rest: Any) -> Any:
        handed.append(options.principal)
        return real(self, targets, operation, options, *rest)

    async with _hub() as hub:
        model = hub.model("perfpath:m")
        with mock.patch.object(Recorder, "begin", spy):
            made_outside = model.complete("hi", **params)
            assert asyncio.iscoroutine(made_outside)
            with acting_for(BOB):
                made_inside = model.complete("hi", **params)
                await made_outside
            await made_inside
            await asyncio.create_task(model.complete("hi", **params))
            with acting_for(ALICE):
                await asyncio.create_task(model.complete("hi", **params))
    assert handed == [BOB, None, None, ALICE]


@pytest.mark.parametrize("prompt", [123, None, [{"role": "nobody", "content": "x"}]])
async def test_a_bad_call_fails_when_awaited_not_when_made(prompt: Any) -> None:
    async with _hub() as hub:
        model = hub.model("perfpath:m")
        pending = model.complete(prompt)  # no error yet, as from an async def
        assert asyncio.iscoroutine(pending)
        with pytest.raises(PatchwireError):
            await pending
        pending = model.complete("hi", priority="high")  # type: ignore[arg-type]
        with pytest.raises(PatchwireError):
            await pending


class _Overriding(FakeConnector):
    """Caches every completion, whatever its temperature: its own is_deterministic."""

    type_name = "fake-deterministic"

    def is_deterministic(self, request: Any) -> bool:
        return True


temperatures = st.sampled_from([0, 0.0, -0.0, False, 1, 0.5, None, float("nan"), "0", []])


@settings(max_examples=80, deadline=None)
@given(
    overriding=st.booleans(),
    temperature=temperatures,
    given=st.booleans(),
    cache=st.sampled_from([None, True, False]),
)
def test_the_cache_key_asks_as_is_deterministic_answers(
    overriding: bool, temperature: Any, given: bool, cache: bool | None
) -> None:
    """key_for answers exactly as the connector's is_deterministic does, on a connector
    that keeps the base's rule (temperature 0) and on one that overrides it."""
    rt = CACHED.runtime("overriding" if overriding else "plain")
    params = {"temperature": temperature} if given else {}
    request = CompletionRequest("m", (Message("user", "hi"),), params)
    options = CallOptions(cache=cache)
    targets = (Target(rt, "m"),)
    key = key_for(targets, "complete", lambda _: request, options)
    asked = cache is True or (cache is None and rt.connector.is_deterministic(request))
    assert (key is not None) is asked
    if asked:
        assert key == (
            cache_key("plain:m" if not overriding else "overriding:m", None, "complete", request),
            None,
        )


def _cached_hub() -> Hub:
    host = PluginHost(load_entry_points=False)
    host.register(FakePlugin(), "fake")

    class _Register:
        @hookimpl
        def patchwire_register_connectors(self, register: Any) -> None:
            register(_Overriding.type_name, _Overriding)

    host.register(_Register(), "overriding")
    cache = {"ttl": 60}
    connectors = {
        "plain": {"type": "fake", "cache": cache},
        "overriding": {"type": _Overriding.type_name, "cache": cache},
    }
    return Hub.from_dict({"connectors": connectors}, host=host, clock=VirtualClock())


CACHED = _cached_hub()
