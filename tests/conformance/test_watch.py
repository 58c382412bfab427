"""The suite's own instruments: the credential search reaches every field of an error and
its chain, and the loop-lag monitor sees a blocked loop."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from patchwire.errors import IntegrationError, TransientError
from patchwire.testing.conformance.harness import SECRET
from patchwire.testing.conformance.rules import RULES, ConformanceFailure, require
from patchwire.testing.conformance.watch import LoopLag, Resources, error_texts, leaking

PLACES = ("message", "details", "cause", "context", "args", "attribute", "failures")


def _error_with(place: str | None, depth: int) -> BaseException:
    """A chain of ``depth`` errors; the secret, when placed, is in ``place`` of the last."""
    value = SECRET if place is not None else "nothing to see"
    inner: BaseException
    if place == "message":
        inner = ValueError(f"boom {value}")
    elif place == "args":
        inner = ValueError("boom", {"key": value})
    elif place == "attribute":
        inner = ValueError("boom")
        inner.sent = {"headers": {"Authorization": value}}  # type: ignore[attr-defined]
    elif place == "details":
        inner = IntegrationError("boom", details=f"key={value}")
    elif place == "failures":
        inner = TransientError("all failed", failures=[ValueError(value)])
    else:  # no secret, or one carried by a chained error added below
        inner = ValueError("boom")
    outer = inner
    for level in range(depth):
        wrapper = IntegrationError(f"level {level}")
        if place == "context":
            wrapper.__context__ = outer
        else:
            wrapper.__cause__ = outer
        outer = wrapper
    if place in ("cause", "context"):
        carrier = ValueError(value)
        last = outer
        while last.__cause__ is not None or last.__context__ is not None:
            last = last.__cause__ or last.__context__  # type: ignore[assignment]
        last.__cause__ = carrier
    return outer


@given(st.sampled_from(PLACES), st.integers(min_value=0, max_value=4))
def test_a_credential_anywhere_in_an_error_or_its_chain_is_found(place: str, depth: int) -> None:
    error = _error_with(place, depth)
    texts = [("error", t) for t in error_texts(error)]
    assert leaking(SECRET, texts), f"secret in {place} at depth {depth} was not found"


@given(st.integers(min_value=0, max_value=4))
def test_an_error_without_the_credential_is_clean(depth: int) -> None:
    texts = [("error", t) for t in error_texts(_error_with(None, depth))]
    assert not leaking(SECRET, texts)


def test_a_failure_names_rule_expected_observed_frame_and_fix() -> None:
    with pytest.raises(ConformanceFailure) as info:
        require(False, "embed-order", expected="[a, b]", observed="[b, a]", frame="x.py:3")
    text = str(info.value)
    assert info.value.rule is RULES["embed-order"]
    for piece in ("'embed-order'", "expected: [a, b]", "observed: [b, a]", "x.py:3", "fix:"):
        assert piece in text


@pytest.mark.integration  # measures real time: a blocked loop is a wall-clock effect
async def test_the_loop_lag_monitor_sees_a_blocking_call() -> None:
    with LoopLag() as lag:
        await asyncio.sleep(0.02)
        time.sleep(0.2)  # noqa: ASYNC251 - the blocked loop being measured
        await asyncio.sleep(0.02)
    assert lag.worst >= 0.15


@pytest.mark.integration  # stops the real process for a real 0.3 s, as a busy machine would
async def test_the_loop_lag_monitor_discounts_a_stall_of_the_whole_process() -> None:
    # A busy CI machine that does not schedule the process is not the connector's doing:
    # the monitor's thread is stalled too, and the loop's delay is discounted.
    with LoopLag() as lag:
        await asyncio.sleep(0.02)
        resume = subprocess.Popen(["sh", "-c", f"sleep 0.3; kill -CONT {os.getpid()}"])  # noqa: ASYNC220 - must run while this process is stopped
        os.kill(os.getpid(), signal.SIGSTOP)
        await asyncio.sleep(0.02)
    resume.wait()
    assert lag.worst < 0.15


class _UnclosedClient:
    """Like an SDK client nobody closed: its finalizer schedules its own close."""

    def __init__(self) -> None:
        self.cycle = self  # only the cyclic collector frees it

    def __del__(self) -> None:
        asyncio.get_running_loop().create_task(asyncio.sleep(0.05), name="sdk-aclose")


async def test_garbage_an_earlier_test_left_is_not_blamed_on_the_run() -> None:
    """A close task scheduled by the finalizer of an object from before the census is not a
    leak of the run (it made the cli conformance suite fail after the SDK tests)."""
    _UnclosedClient()  # garbage before the census, freed only by a full collection
    census = Resources()
    assert await census.leftovers() == []


async def test_a_task_the_run_leaves_running_is_still_found() -> None:
    census = Resources()
    task = asyncio.get_running_loop().create_task(asyncio.sleep(1), name="left-behind")
    try:
        assert [f for f in await census.leftovers() if "left-behind" in f]
    finally:
        task.cancel()
