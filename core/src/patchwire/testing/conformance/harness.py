"""One run of a connector against its own simulator, watched for the hygiene rules.

:class:`SimulatedSuite` is the base of every capability class: it registers the plugin,
starts the simulator its plugin registered, builds a hub with small timeouts and
retries, and, when the run ends, checks the rules every run must keep: no leftovers,
no blocked loop, and the credential nowhere.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator, Awaitable
from typing import Any, ClassVar

import attrs
import pytest

from patchwire.connector import Connector
from patchwire.errors import PatchwireError
from patchwire.events import Event
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.testing.conformance.rules import connector_frame, require
from patchwire.testing.conformance.watch import (
    LogCapture,
    LoopLag,
    Resources,
    error_texts,
    leaking,
)
from patchwire.testing.sim_faults import FaultMix
from patchwire.testing.sim_stats import SimRecord
from patchwire.testing.simulator import Simulator

__all__ = ["SECRET", "Run", "SimulatedSuite", "Watched", "check_hygiene", "check_none_lost"]

SECRET = "pwconf-" + "7f3a9c1e5b2d8046" * 2
NO_FAULTS = FaultMix()


@attrs.frozen
class Watched:
    """What the suite saw during one run, for the rules every run must keep."""

    lag: LoopLag
    logs: LogCapture
    census: Resources
    events: list[Event]
    errors: list[BaseException]
    metrics: str
    reprs: str


async def check_hygiene(seen: Watched, lag_bound: float, frame: str) -> None:
    """loop-not-blocked, no-credential-leak and no-leaks, once the hub is closed."""
    require(
        seen.lag.worst <= lag_bound,
        "loop-not-blocked",
        expected=f"event loop stalls <= {lag_bound:.2f}s",
        observed=f"a stall of {seen.lag.worst:.3f}s during the calls",
        frame=frame,
    )
    texts = [("log record", t) for t in seen.logs.texts]
    texts += [(f"event {e.kind.value}", repr(e)) for e in seen.events]
    texts += [("metrics", seen.metrics), ("hub/connector repr", seen.reprs)]
    for error in seen.errors:
        texts += [(f"error {type(error).__name__}", t) for t in error_texts(error)]
    where = sorted(set(leaking(SECRET, texts)))
    require(
        not where,
        "no-credential-leak",
        expected="the seeded credential nowhere",
        observed=f"the credential in: {', '.join(where)}",
        frame=frame,
    )
    leftovers = await seen.census.leftovers()
    require(
        not leftovers,
        "no-leaks",
        expected="nothing the connector opened still open after the hub closed",
        observed="; ".join(leftovers),
        frame=frame,
    )


def check_none_lost(outcomes: list[Any], frame: str) -> None:
    """classify-mixed: every outcome of a batch of calls is a result or a PatchwireError."""
    lost = [
        repr(o)[:120]
        for o in outcomes
        if isinstance(o, BaseException) and not isinstance(o, PatchwireError)
    ]
    require(
        not lost,
        "classify-mixed",
        expected=f"each of {len(outcomes)} calls ends in a result or a PatchwireError",
        observed=f"{len(lost)} ended otherwise: {lost[:3]}",
        frame=frame,
    )


class Run:
    """A hub talking to the connector's simulator, and what the suite saw meanwhile."""

    def __init__(self, suite: SimulatedSuite, sim: Simulator, hub: Hub) -> None:
        self.suite = suite
        self.sim = sim
        self.hub = hub
        self.events: list[Event] = []
        self.errors: list[BaseException] = []
        self.lag: LoopLag | None = None
        hub.bus.add("conformance", self.events.append)

    def census(self) -> Resources:
        """Open sessions, responses, tasks and descriptors now (not counted as loop lag)."""
        found = Resources()
        if self.lag is not None:
            self.lag.exempt()
        return found

    def opened_since(self, census: Resources) -> list[str]:
        found = census.open_responses()
        if self.lag is not None:
            self.lag.exempt()
        return found

    @property
    def records(self) -> list[SimRecord]:
        return self.sim.journal

    @property
    def requests(self) -> int:
        return self.sim.stats().requests

    async def error_of(self, call: Awaitable[Any]) -> PatchwireError | None:
        """The classified error a call ends in, or None when it returned a result."""
        try:
            await call
        except PatchwireError as exc:
            self.errors.append(exc)
            return exc
        return None

    def frame(self, error: BaseException | None = None) -> str:
        return connector_frame(self.suite.connector_class(), self.suite.operation, error)


class SimulatedSuite:
    """Shared set-up of the capability classes. Subclasses set ``plugin`` (the plugin
    object), ``wire`` (its simulator's name), ``model``, and ``connector_type`` when it
    differs from ``wire``; override ``connector_table`` for extra settings."""

    plugin: ClassVar[object]
    wire: ClassVar[str]
    model: ClassVar[str]
    connector_type: ClassVar[str] = ""
    operation: ClassVar[str] = "complete"
    MAX_ATTEMPTS: ClassVar[int] = 2
    ATTEMPT_TIMEOUT: ClassVar[float] = 0.5
    #: how long the loop may stall during a call (a blocking call in a connector shows
    #: as a stall; a shared CI machine, running two test suites at once, causes short ones)
    LOOP_LAG_BOUND: ClassVar[float] = 0.5
    CREDENTIAL_ENV: ClassVar[str] = "PATCHWIRE_CONFORMANCE_KEY"
    connector_name: ClassVar[str] = "subject"

    @pytest.fixture
    def conformance_host(self, plugin_host: PluginHost) -> PluginHost:
        plugin_host.register(self.plugin, f"conformance:{self.wire}")
        return plugin_host

    def type_name(self) -> str:
        return self.connector_type or self.wire

    def connector_class(self) -> type[Connector] | None:
        from patchwire.plugins import default_host

        host = getattr(self, "_host", None) or default_host()
        found: type[Connector] | None = host.registries.connectors.get(self.type_name())
        return found

    def connector_table(self, base_url: str) -> dict[str, Any]:
        return {
            "type": self.type_name(),
            "base_url": base_url,
            "api_key": f"env:{self.CREDENTIAL_ENV}",
            "timeout": self.ATTEMPT_TIMEOUT,
            "embed_timeout": self.ATTEMPT_TIMEOUT,
            "retry": {"max_attempts": self.MAX_ATTEMPTS, "initial": 0.01, "cap": 0.05},
            "breaker": {"enabled": False},
            "cache": {"ttl": 0},
        }

    @contextlib.asynccontextmanager
    async def run(
        self,
        host: PluginHost,
        faults: FaultMix = NO_FAULTS,
        *,
        keys: tuple[str, ...] = (SECRET,),
        max_attempts: int | None = None,
        stream_pause: float = 0.0,
    ) -> AsyncIterator[Run]:
        """A simulator and a hub for one check; hygiene rules are checked when it ends."""
        self._host = host
        census = Resources()
        logs = LogCapture()
        saved = os.environ.get(self.CREDENTIAL_ENV)
        os.environ[self.CREDENTIAL_ENV] = SECRET
        try:
            with logs.installed(), LoopLag() as lag:
                async with Simulator(
                    self.wire,
                    faults=faults,
                    seed=7,
                    keys=keys,
                    plugin_host=host,
                    stream_pause=stream_pause,
                ) as sim:
                    table = self.connector_table(sim.base_url)
                    if max_attempts is not None:
                        table["retry"] = {**table["retry"], "max_attempts": max_attempts}
                    hub = Hub.from_dict({"connectors": {self.connector_name: table}}, host=host)
                    run = Run(self, sim, hub)
                    run.lag = lag
                    async with hub:
                        yield run
                        metrics = json.dumps(hub.metrics().to_dict(), default=str)
                        reprs = repr(hub) + repr(hub.runtime(self.connector_name).connector)
        finally:
            if saved is None:
                os.environ.pop(self.CREDENTIAL_ENV, None)
            else:
                os.environ[self.CREDENTIAL_ENV] = saved
        await check_hygiene(
            Watched(lag, logs, census, run.events, run.errors, metrics, reprs),
            self.LOOP_LAG_BOUND,
            run.frame(run.errors[0] if run.errors else None),
        )
