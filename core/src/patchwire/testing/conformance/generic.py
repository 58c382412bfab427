"""The conformance suite a connector's tests subclass to prove it keeps the contract.

Subclass :class:`ConnectorConformance` (any connector: give it ``make_hub`` and ``call``)
or :class:`SimulatedModelConformance` (a model connector whose plugin registers a
simulator: give it the wire name and the connector table), name the subclass ``Test...``,
and pytest runs every check against your connector:

- a successful call returns a result and is measured (calls, latency, tokens);
- upstream server errors end in a classified ``PatchwireError`` after the configured attempts;
- a refused credential ends as ``auth`` without retry storms, and the credential never
  appears in the error, its repr, the logs, the events or the metrics;
- a hanging upstream ends at the attempt timeout as ``degraded``;
- a cancelled call leaves no task behind;
- under a random fault mix every call ends in a result or a classified error: none is lost.
"""

from __future__ import annotations

import abc
import asyncio
import enum
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, ClassVar, cast

import pytest

from patchwire.errors import AuthError, Category, DegradedError, PatchwireError
from patchwire.events import Event
from patchwire.hub import Hub
from patchwire.plugins import PluginHost

__all__ = ["ConnectorConformance", "Scenario", "SimulatedModelConformance"]

from patchwire.testing.conformance.harness import SECRET


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
        gen = cast(AsyncGenerator[Hub, None], self.make_hub(scenario, host))
        hub = await gen.__anext__()
        hub.bus.add("conformance", events.append)
        try:
            async with hub:
                result = await fn(hub)
        finally:
            await gen.aclose()
        return result, events, hub

    # --- the checks ------------------------------------------------------------------------

    async def test_success_is_returned_and_measured(self, conformance_host: PluginHost) -> None:
        async def one(hub: Hub) -> Any:
            result = await self.call(hub)
            return result, hub.metrics().to_dict()

        (result, metrics), events, _ = await self._run(Scenario.OK, conformance_host, one)
        assert result is not None
        kinds = [e.kind.value for e in events]
        assert "call_started" in kinds and "call_succeeded" in kinds
        assert "calls" in json.dumps(metrics)

    async def test_server_errors_end_classified_after_the_configured_attempts(
        self, conformance_host: PluginHost
    ) -> None:
        async def one(hub: Hub) -> PatchwireError:
            with pytest.raises(PatchwireError) as info:
                await self.call(hub)
            return info.value

        error, events, _ = await self._run(Scenario.SERVER_ERROR, conformance_host, one)
        assert error.category in (Category.TRANSIENT, Category.DEGRADED, Category.RATE_LIMITED)
        assert error.attempts == self.MAX_ATTEMPTS
        assert sum(e.kind.value == "retry_scheduled" for e in events) == self.MAX_ATTEMPTS - 1

    async def test_refused_credential_is_auth_and_never_leaks(
        self, conformance_host: PluginHost, caplog: pytest.LogCaptureFixture
    ) -> None:
        async def one(hub: Hub) -> tuple[PatchwireError, str]:
            with caplog.at_level(logging.DEBUG), pytest.raises(PatchwireError) as info:
                await self.call(hub)
            return info.value, json.dumps(hub.metrics().to_dict())

        (error, metrics), events, _ = await self._run(Scenario.AUTH_ERROR, conformance_host, one)
        assert isinstance(error, AuthError)
        assert error.attempts <= 2  # one refresh at most, never a retry storm
        for text in (str(error), repr(error), caplog.text, metrics, *(repr(e) for e in events)):
            assert SECRET not in text

    async def test_hanging_upstream_ends_at_the_attempt_timeout(
        self, conformance_host: PluginHost
    ) -> None:
        async def one(hub: Hub) -> tuple[PatchwireError, float]:
            start = hub.clock.now()
            with pytest.raises(PatchwireError) as info:
                await self.call(hub)
            return info.value, hub.clock.now() - start

        (error, elapsed), _, _ = await self._run(Scenario.HANG, conformance_host, one)
        assert isinstance(error, DegradedError)
        # every attempt ends at its timeout; backoffs between them are small
        assert elapsed < self.MAX_ATTEMPTS * self.ATTEMPT_TIMEOUT + 5.0

    async def test_cancelled_call_leaves_no_task(self, conformance_host: PluginHost) -> None:
        async def one(hub: Hub) -> set[asyncio.Task[Any]]:
            before = asyncio.all_tasks()
            task = asyncio.ensure_future(self.call(hub))
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await asyncio.sleep(0.05)
            return {t for t in asyncio.all_tasks() - before if not t.done()}

        leftover, _events, _ = await self._run(Scenario.HANG, conformance_host, one)
        names = sorted(t.get_name() for t in leftover)
        assert not [
            n for n in names if not n.startswith(("patchwire-virtual-clock", "patchwire-keep"))
        ], names

    async def test_no_call_is_lost_under_a_fault_mix(self, conformance_host: PluginHost) -> None:
        async def many(hub: Hub) -> tuple[int, int]:
            outcomes = await asyncio.gather(
                *(self.call(hub) for _ in range(self.MIXED_CALLS)), return_exceptions=True
            )
            ok = sum(not isinstance(o, BaseException) for o in outcomes)
            classified = sum(isinstance(o, PatchwireError) for o in outcomes)
            return ok, classified

        (ok, classified), _, _ = await self._run(Scenario.MIXED, conformance_host, many)
        assert ok + classified == self.MIXED_CALLS


class SimulatedModelConformance(ConnectorConformance):
    """The suite for a model connector whose plugin registers a simulator for its wire.

    Subclasses set ``plugin`` (the plugin object), ``wire`` (the simulator name),
    ``connector_type``, ``model`` and may override ``connector_table``.
    """

    plugin: ClassVar[object]
    wire: ClassVar[str]
    connector_type: ClassVar[str]
    model: ClassVar[str] = "sim-model"
    operation: ClassVar[str] = "complete"

    @pytest.fixture
    def conformance_host(self, plugin_host: PluginHost) -> PluginHost:
        plugin_host.register(self.plugin, f"conformance:{self.wire}")
        return plugin_host

    def connector_table(self, base_url: str) -> dict[str, Any]:
        return {
            "type": self.connector_type,
            "base_url": base_url,
            "api_key": f"env:{self.CREDENTIAL_ENV}",
            "timeout": self.ATTEMPT_TIMEOUT,
            "embed_timeout": self.ATTEMPT_TIMEOUT,
            "retry": {
                "max_attempts": self.MAX_ATTEMPTS,
                "initial": 0.01,
                "cap": 0.05,
                "deadline": 30,
            },
            "breaker": {"enabled": False},
            "cache": {"ttl": 0},
        }

    async def make_hub(self, scenario: Scenario, host: PluginHost) -> AsyncIterator[Hub]:
        from patchwire.testing.simulator import FaultMix, Simulator

        faults = {
            Scenario.OK: FaultMix(),
            Scenario.SERVER_ERROR: FaultMix(server_error=1.0),
            Scenario.AUTH_ERROR: FaultMix(),
            Scenario.HANG: FaultMix(hang=1.0),
            Scenario.MIXED: FaultMix(
                server_error=0.2, rate_limited=0.1, reset=0.05, malformed=0.05
            ),
        }[scenario]
        keys = ["a-different-key-entirely"] if scenario is Scenario.AUTH_ERROR else None
        async with Simulator(self.wire, faults=faults, seed=7, keys=keys, plugin_host=host) as sim:
            yield Hub.from_dict(
                {"connectors": {self.connector_name: self.connector_table(sim.base_url)}}, host=host
            )

    async def call(self, hub: Hub) -> Any:
        model = hub.model(f"{self.connector_name}:{self.model}")
        if self.operation == "embed":
            return await model.embed("conformance")
        return await model.complete("conformance check", max_tokens=16)
