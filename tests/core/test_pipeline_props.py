"""Properties of the whole call pipeline (retry, deadline, breaker, budget, routes), on the
virtual clock with the scriptable fake connector. Each test names its invariant."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from patchwire.clock import VirtualClock
from patchwire.errors import (
    AuthError,
    Category,
    DegradedError,
    IntegrationError,
    InvalidRequestError,
    PatchwireError,
    QuotaExhaustedError,
    RateLimitedError,
    TransientError,
)
from patchwire.events import EventKind
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.testing import Delay, FakeConnector, FakeScript, Hang
from patchwire.testing.fake import FakePlugin

PROPS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def make_host() -> PluginHost:
    host = PluginHost(load_entry_points=False)
    host.register(FakePlugin(), "fake")
    return host


HOST = make_host()

failure = st.sampled_from(
    [
        TransientError("t"),
        DegradedError("d"),
        RateLimitedError("r"),
        RateLimitedError("r-hint", retry_after=3.0),
        InvalidRequestError("bad"),
        AuthError("auth"),
        QuotaExhaustedError("quota"),
        IntegrationError("shape"),
        "ok",
        Delay(2.0, "ok"),
        Delay(50.0, "ok"),  # longer than the attempt timeout
    ]
)


def hub_for(script: FakeScript, clock: VirtualClock, **connector: Any) -> Hub:
    FakeConnector.scripts["fake"] = script
    table = {"timeout": 10, "breaker": {"enabled": False}, **connector}
    return Hub.from_dict({"connectors": {"fake": table}}, host=HOST, clock=clock, seed=5)


async def run_one(hub: Hub, **kwargs: Any) -> tuple[Any, list[Any]]:
    events: list[Any] = []
    hub.bus.add("t", events.append)
    async with hub:
        try:
            result: Any = await hub.model("fake:m").complete("hi", **kwargs)
        except PatchwireError as err:
            result = err
    return result, events


@PROPS
@given(
    outcomes=st.lists(failure, max_size=8), attempts=st.integers(1, 6), deadline=st.floats(1, 200)
)
async def test_deadline_never_overrun_and_attempts_bounded(outcomes, attempts, deadline) -> None:
    clock = VirtualClock()
    script = FakeScript().extend(outcomes)
    hub = hub_for(script, clock, retry={"max_attempts": attempts, "initial": 1, "cap": 8})
    result, _ = await run_one(hub, timeout=deadline)
    assert clock.now() <= deadline + 1e-9
    assert len(script.calls) <= attempts, (
        outcomes,
        attempts,
        deadline,
        script.calls,
        hub.config.connectors["fake"].retry,
    )
    if isinstance(result, PatchwireError):
        assert result.attempts == len(script.calls) or result.attempts == 0


@PROPS
@given(outcomes=st.lists(failure, max_size=8))
async def test_exactly_one_event_per_retry_and_one_terminal_event(outcomes) -> None:
    clock = VirtualClock()
    script = FakeScript().extend(outcomes)
    result, events = await run_one(hub_for(script, clock, retry={"max_attempts": 4}))
    kinds = [e.kind for e in events]
    terminal = [k for k in kinds if k in (EventKind.CALL_SUCCEEDED, EventKind.CALL_FAILED)]
    assert len(terminal) == 1
    retries = kinds.count(EventKind.RETRY_SCHEDULED)
    assert retries == len(script.calls) - 1
    assert kinds.count(EventKind.ATTEMPT_FAILED) == len(script.calls) - (
        0 if isinstance(result, PatchwireError) else 1
    )


@PROPS
@given(
    error=st.sampled_from(
        [InvalidRequestError("x"), IntegrationError("y"), QuotaExhaustedError("z")]
    )
)
async def test_permanent_errors_mean_exactly_one_call_and_same_category(error) -> None:
    script = FakeScript().push(error)
    result, _ = await run_one(hub_for(script, VirtualClock()))
    assert len(script.calls) == 1
    assert type(result) is type(error) and result.attempts == 1


@PROPS
@given(hint=st.floats(0.5, 20), initial=st.floats(0.01, 1))
async def test_retry_after_hint_is_honoured(hint, initial) -> None:
    clock = VirtualClock()
    script = FakeScript().push(RateLimitedError("slow", retry_after=hint), "ok")
    result, _ = await run_one(hub_for(script, clock, retry={"initial": initial, "cap": 30}))
    assert result.text == "ok"
    assert script.calls[1].time - script.calls[0].time >= hint


@PROPS
@given(cancel_at=st.floats(0.0, 30.0), outcomes=st.lists(failure, min_size=1, max_size=6))
async def test_cancellation_is_never_retried_and_no_call_follows_it(cancel_at, outcomes) -> None:
    clock = VirtualClock()
    script = FakeScript().extend(outcomes)
    script.default = Hang()
    hub = hub_for(script, clock, retry={"max_attempts": 6, "initial": 1, "cap": 4})
    events: list[Any] = []
    hub.bus.add("t", events.append)
    async with hub:
        task = asyncio.ensure_future(hub.model("fake:m").complete("hi"))
        await clock.sleep(cancel_at)
        calls_at_cancel = len(script.calls)
        cancelled = task.cancel()
        try:
            await task
        except (asyncio.CancelledError, PatchwireError):
            pass
        await clock.sleep(100)
    if cancelled and task.cancelled():
        assert len(script.calls) == calls_at_cancel
        assert [e.category for e in events if e.kind is EventKind.CALL_FAILED] == ["cancelled"]


async def test_fallback_primary_degraded_secondary_answers_within_deadline(
    plugin_host, virtual_clock, fake_scripts
):
    fake_scripts["a"] = FakeScript(default=DegradedError("overloaded", status=529))
    fake_scripts["b"] = FakeScript(default="from b")
    config = {
        "connectors": {"a": {"type": "fake"}, "b": {"type": "fake"}},
        "routes": {"fast": {"targets": ["a:m1", "b:m2"]}},
    }
    events: list[Any] = []
    async with Hub.from_dict(config, host=plugin_host, clock=virtual_clock) as hub:
        hub.bus.add("t", events.append)
        reply = await hub.model("fast").complete("hi", timeout=5)
    assert reply.text == "from b" and reply.connector == "b" and reply.model == "m2"
    assert reply.attempts == 2 and virtual_clock.now() < 5
    assert len(fake_scripts["a"].calls) == 1  # degraded moves on at once, no retry on a
    fallback = [e for e in events if e.kind is EventKind.FALLBACK_TAKEN]
    assert fallback and fallback[0].target == "b:m2" and fallback[0].category == "degraded"


async def test_route_exhausted_carries_every_targets_failure(
    plugin_host, virtual_clock, fake_scripts
):
    fake_scripts["a"] = FakeScript(default=QuotaExhaustedError("no credit"))
    fake_scripts["b"] = FakeScript(default=DegradedError("busy"))
    config = {
        "connectors": {"a": {"type": "fake"}, "b": {"type": "fake", "retry": {"max_attempts": 2}}},
        "routes": {"fast": {"targets": ["a:m", "b:m"]}},
    }
    async with Hub.from_dict(config, host=plugin_host, clock=virtual_clock) as hub:
        with pytest.raises(PatchwireError) as info:
            await hub.model("fast").complete("hi")
    err = info.value
    assert [f.category for f in err.failures] == [Category.QUOTA_EXHAUSTED, Category.DEGRADED]
    assert [f.connector for f in err.failures] == ["a", "b"]
    assert err.attempts == 3 and "no credit" in str(err) and "busy" in str(err)


async def test_retry_after_that_does_not_fit_moves_to_next_target(
    plugin_host, virtual_clock, fake_scripts
):
    fake_scripts["a"] = FakeScript(default=RateLimitedError("slow", retry_after=60))
    fake_scripts["b"] = FakeScript(default="b")
    config = {
        "connectors": {"a": {"type": "fake"}, "b": {"type": "fake"}},
        "routes": {"r": {"targets": ["a:m", "b:m"]}},
    }
    async with Hub.from_dict(config, host=plugin_host, clock=virtual_clock) as hub:
        reply = await hub.model("r").complete("hi", timeout=10)
        with pytest.raises(RateLimitedError) as info:
            await hub.model("a:m").complete("hi", timeout=10)
    assert reply.text == "b" and virtual_clock.now() < 10
    assert info.value.retry_after == pytest.approx(60) and "past the call's deadline" in str(
        info.value
    )


async def test_stream_fails_over_only_before_first_chunk(plugin_host, virtual_clock, fake_scripts):
    fake_scripts["a"] = FakeScript().push(DegradedError("down"))
    fake_scripts["b"] = FakeScript().push(["he", "llo"])
    config = {
        "connectors": {"a": {"type": "fake"}, "b": {"type": "fake"}},
        "routes": {"r": {"targets": ["a:m", "b:m"]}},
    }
    async with Hub.from_dict(config, host=plugin_host, clock=virtual_clock) as hub:
        text = "".join([c.text async for c in hub.model("r").stream("hi")])
        assert text == "hello"
        fake_scripts["a"].push(["par", TransientError("cut")])
        got: list[str] = []
        with pytest.raises(TransientError) as info:
            async for chunk in hub.model("r").stream("hi"):
                got.append(chunk.text)
    assert got == ["par"] and "after it started" in str(info.value)
    assert len(fake_scripts["b"].calls) == 1  # no failover once a chunk reached the caller


async def test_auth_refresh_once_then_fail_fast(plugin_host, virtual_clock, fake_scripts, tmp_path):
    key = tmp_path / "key"
    key.write_text("old-key-value\n")
    script = fake_scripts.setdefault("fake", FakeScript())

    def check(request: Any, attempt: Any) -> Any:
        return (
            "ok"
            if attempt.headers["Authorization"] == "Bearer new-key-value"
            else AuthError("bad key", status=401)
        )

    script.default = check
    config = {"connectors": {"fake": {"api_key": f"file:{key}"}}}
    async with Hub.from_dict(config, host=plugin_host, clock=virtual_clock) as hub:
        with pytest.raises(AuthError) as info:
            await hub.model("fake:m").complete("hi")
        assert info.value.attempts == 1  # the file did not change: refresh says no, fail fast
        key.write_text("new-key-value\n")
        reply = await hub.model("fake:m").complete("hi")
    assert reply.text == "ok" and reply.attempts == 2  # 401, re-read the rotated file, retried once


async def test_403_never_refreshes(plugin_host, virtual_clock, fake_scripts):
    fake_scripts["fake"] = FakeScript(default=AuthError("forbidden", status=403))
    async with Hub.from_dict({}, host=plugin_host, clock=virtual_clock) as hub:
        with pytest.raises(AuthError):
            await hub.model("fake:m").complete("hi")
    assert len(fake_scripts["fake"].calls) == 1


async def test_breaker_opens_and_rejects_at_once(plugin_host, virtual_clock, fake_scripts):
    fake_scripts["fake"] = FakeScript(default=TransientError("down"))
    config = {
        "connectors": {
            "fake": {
                "retry": {"max_attempts": 1},
                "breaker": {"min_calls": 5, "failure_ratio": 0.5},
            }
        }
    }
    async with Hub.from_dict(config, host=plugin_host, clock=virtual_clock) as hub:
        for _ in range(5):
            with pytest.raises(TransientError):
                await hub.model("fake:m").complete("hi")
        from patchwire.errors import CircuitOpenError

        with pytest.raises(CircuitOpenError) as info:
            await hub.model("fake:m").complete("hi")
    assert (
        len(fake_scripts["fake"].calls) == 5
        and info.value.retry_after
        and info.value.retry_after > 0
    )


async def test_budget_dead_provider_gets_bounded_load_and_flaky_one_gets_through(
    plugin_host, fake_scripts
):
    """A provider failing every call sees at most ~1.5x the offered load (breaker off, to
    isolate the budget); one failing 20 % at random still serves every call."""
    clock = VirtualClock()
    fake_scripts["dead"] = FakeScript(default=TransientError("down"))
    rng = random.Random(11)
    fake_scripts["flaky"] = FakeScript(
        default=lambda r, a: TransientError("blip") if rng.random() < 0.2 else "ok"
    )
    table = {
        "type": "fake",
        "retry": {"max_attempts": 4, "initial": 0.01, "cap": 0.1},
        "breaker": {"enabled": False},
    }
    config = {"connectors": {"dead": dict(table), "flaky": dict(table)}}
    calls = 1000
    async with Hub.from_dict(config, host=plugin_host, clock=clock, seed=3) as hub:
        ok = 0
        for _ in range(calls):
            await clock.sleep(0.02)  # 50 calls per second offered to each
            try:
                await hub.model("dead:m").complete("x")
            except TransientError:
                pass
            try:
                await hub.model("flaky:m").complete("x")
                ok += 1
            except TransientError:
                pass
    assert len(fake_scripts["dead"].calls) <= 1.5 * calls + 50  # ratio 0.5 plus the budget's burst
    assert ok >= calls - 2  # 0.2^4 of calls may fail all four attempts by chance


async def test_error_details_from_the_connector_reach_the_caller(
    plugin_host, virtual_clock, fake_scripts
):
    fake_scripts["fake"] = FakeScript().push(
        InvalidRequestError("tool said no", details="[{'type': 'text'}]")
    )
    async with Hub.from_dict({}, host=plugin_host, clock=virtual_clock) as hub:
        with pytest.raises(InvalidRequestError) as info:
            await hub.tool("fake").call("op")
    assert info.value.details == "[{'type': 'text'}]" and info.value.attempts == 1
