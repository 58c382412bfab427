"""The suite for a connector with no simulator: a tool driving a program or a server the
test starts itself. Subclass :class:`ConnectorConformance`, give it ``make_hub`` (an async
generator that starts the upstream for a :class:`Scenario` and yields a Hub) and ``call``.

Every scenario is watched for the hygiene rules (no leftovers once the hub and upstream
are closed, no blocked loop, the credential in no error, log, event, metric or repr); the
checks are ``classify-success``, ``classify-server``, ``classify-auth``, ``classify-hang``,
``cancel`` and ``classify-mixed`` (every call under a fault mix ends in a result or a
classified error). A failure names the rule as the simulated suites' do.
"""

from __future__ import annotations

import abc
import asyncio
import enum
import json
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, ClassVar, cast

import pytest

from patchwire.errors import Category, PatchwireError
from patchwire.events import Event
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.testing.conformance.harness import (
    SECRET,
    Watched,
    check_hygiene,
    check_none_lost,
)
from patchwire.testing.conformance.rules import require
from patchwire.testing.conformance.watch import LogCapture, LoopLag, Resources, cancel_outcome

__all__ = ["ConnectorConformance", "Scenario"]

RETRYABLE = (Category.TRANSIENT, Category.DEGRADED, Category.RATE_LIMITED)


class Scenario(enum.StrEnum):
    OK = "ok"
    SERVER_ERROR = "server_error"  # every request fails with a retryable server error
    AUTH_ERROR = "auth_error"  # the upstream refuses the credential
    HANG = "hang"  # the upstream never answers
    MIXED = "mixed"  # a random mix of faults and successes


class ConnectorConformance(abc.ABC):
    """Checks every connector must pass. Subclasses implement ``make_hub`` and ``call``.

    ``make_hub`` must configure the connector with ``timeout`` = ``ATTEMPT_TIMEOUT``,
    ``retry.max_attempts`` = ``MAX_ATTEMPTS`` and small backoffs, and reference the
    credential ``SECRET`` (set in the environment variable ``CREDENTIAL_ENV``).
    """

    MAX_ATTEMPTS: ClassVar[int] = 2
    ATTEMPT_TIMEOUT: ClassVar[float] = 0.5
    LOOP_LAG_BOUND: ClassVar[float] = 0.5
    CREDENTIAL_ENV: ClassVar[str] = "PATCHWIRE_CONFORMANCE_KEY"
    MIXED_CALLS: ClassVar[int] = 40
    connector_name: ClassVar[str] = "subject"

    @abc.abstractmethod
    def make_hub(self, scenario: Scenario, host: PluginHost) -> AsyncIterator[Hub]:
        """An async generator that sets up the upstream for ``scenario`` and yields one Hub."""

    @abc.abstractmethod
    async def call(self, hub: Hub) -> Any:
        """One call of the connector's main operation."""

    # --- fixtures -----------------------------------------------------------------------

    @pytest.fixture
    def conformance_host(self, plugin_host: PluginHost) -> PluginHost:
        return plugin_host

    @pytest.fixture(autouse=True)
    def _credential(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(self.CREDENTIAL_ENV, SECRET)

    async def _run(
        self, scenario: Scenario, host: PluginHost, fn: Any
    ) -> tuple[Any, list[Event], Hub]:
        events: list[Event] = []
        errors: list[BaseException] = []
        logs = LogCapture()
        census = Resources()
        with logs.installed(), LoopLag() as lag:
            gen = cast(AsyncGenerator[Hub, None], self.make_hub(scenario, host))
            hub = await gen.__anext__()
            hub.bus.add("conformance", events.append)
            try:
                async with hub:
                    result = await fn(hub)
                    metrics = json.dumps(hub.metrics().to_dict(), default=str)
                    reprs = repr(hub) + repr(hub.runtime(self.connector_name).connector)
            finally:
                await gen.aclose()
        errors = [o for o in _flatten(result) if isinstance(o, BaseException)]
        # MIXED starts MIXED_CALLS calls in one loop turn: each may do a little synchronous
        # set-up (a subprocess spawn is a fork), so the bound grows by 10 ms a call.
        bound = self.LOOP_LAG_BOUND + (0.01 * self.MIXED_CALLS if scenario is Scenario.MIXED else 0)
        await check_hygiene(
            Watched(lag, logs, census, events, errors, metrics, reprs),
            bound,
            f"connector '{self.connector_name}' ({type(self).__name__}, {scenario})",
        )
        return result, events, hub

    async def _error(self, hub: Hub) -> PatchwireError | BaseException | None:
        try:
            await self.call(hub)
        except PatchwireError as exc:
            return exc
        return None

    # --- the checks ------------------------------------------------------------------------

    async def test_success_is_returned_and_measured(self, conformance_host: PluginHost) -> None:
        async def one(hub: Hub) -> Any:
            try:
                result: Any = await self.call(hub)
            except PatchwireError as exc:
                result = exc
            return result, hub.metrics().to_dict()

        (result, metrics), events, _ = await self._run(Scenario.OK, conformance_host, one)
        kinds = [e.kind.value for e in events]
        require(
            result is not None
            and not isinstance(result, BaseException)
            and "call_succeeded" in kinds
            and "calls" in json.dumps(metrics),
            "classify-success",
            expected="a result, a call_succeeded event and the call in the metrics",
            observed=f"{result!r:.200}; events {kinds}",
            frame=self.connector_name,
        )

    async def test_server_errors_end_classified_after_the_configured_attempts(
        self, conformance_host: PluginHost
    ) -> None:
        error, events, _ = await self._run(Scenario.SERVER_ERROR, conformance_host, self._error)
        retries = sum(e.kind.value == "retry_scheduled" for e in events)
        require(
            isinstance(error, PatchwireError)
            and error.category in RETRYABLE
            and error.attempts == self.MAX_ATTEMPTS
            and retries == self.MAX_ATTEMPTS - 1,
            "classify-server",
            expected=f"transient/degraded/rate_limited after {self.MAX_ATTEMPTS} attempts",
            observed=f"{error!s:.200}; {retries} retries scheduled",
            frame=self.connector_name,
        )

    async def test_refused_credential_is_auth_and_never_leaks(
        self, conformance_host: PluginHost
    ) -> None:
        error, _, _ = await self._run(Scenario.AUTH_ERROR, conformance_host, self._error)
        require(
            isinstance(error, PatchwireError)
            and error.category is Category.AUTH
            and error.attempts <= 2,
            "classify-auth",
            expected="auth after one refresh at most (2 attempts)",
            observed=f"{error!s:.200}",
            frame=self.connector_name,
        )

    async def test_hanging_upstream_ends_at_the_attempt_timeout(
        self, conformance_host: PluginHost
    ) -> None:
        async def one(hub: Hub) -> tuple[Any, float]:
            start = hub.clock.now()
            error = await self._error(hub)
            return error, hub.clock.now() - start

        (error, elapsed), _, _ = await self._run(Scenario.HANG, conformance_host, one)
        bound = self.MAX_ATTEMPTS * self.ATTEMPT_TIMEOUT + 5.0
        require(
            isinstance(error, PatchwireError)
            and error.category is Category.DEGRADED
            and elapsed < bound,
            "classify-hang",
            expected=f"degraded within {bound:.1f}s",
            observed=f"{error!s:.200} after {elapsed:.2f}s",
            frame=self.connector_name,
        )

    async def test_cancelled_call_leaves_no_task(self, conformance_host: PluginHost) -> None:
        async def one(hub: Hub) -> str:
            task = asyncio.ensure_future(self.call(hub))
            await asyncio.sleep(0.05)
            return await cancel_outcome(task)

        outcome, _, _ = await self._run(Scenario.HANG, conformance_host, one)
        require(
            outcome == "cancelled",
            "cancel",
            expected="CancelledError right after task.cancel()",
            observed=outcome,
            frame=self.connector_name,
        )

    async def test_no_call_is_lost_under_a_fault_mix(self, conformance_host: PluginHost) -> None:
        async def many(hub: Hub) -> list[Any]:
            return list(
                await asyncio.gather(
                    *(self.call(hub) for _ in range(self.MIXED_CALLS)), return_exceptions=True
                )
            )

        outcomes, _, _ = await self._run(Scenario.MIXED, conformance_host, many)
        check_none_lost(outcomes, self.connector_name)


def _flatten(value: Any) -> list[Any]:
    if isinstance(value, tuple | list):
        return [x for v in value for x in _flatten(v)]
    return [value]
