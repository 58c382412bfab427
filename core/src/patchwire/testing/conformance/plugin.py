"""The plugin as a whole: it loads through its installed entry point, states a contract
version core accepts, every capability it claims works and every one it does not claim
is refused before anything is sent."""

from __future__ import annotations

import importlib.metadata as md
import os
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from patchwire import hookspecs
from patchwire.connector import Capability
from patchwire.errors import InvalidRequestError
from patchwire.hub import Hub
from patchwire.plugins import ALLOWLIST_ENV, PluginHost
from patchwire.testing.conformance.harness import SimulatedSuite
from patchwire.testing.conformance.operation import PROMPT
from patchwire.testing.conformance.rich import ANSWER, WEATHER
from patchwire.testing.conformance.rules import require

__all__ = ["InstalledPluginChecks", "PluginConformance"]


class InstalledPluginChecks:
    """The plugin as installed: set ``plugin`` (the plugin object) and ``connector_type``.
    Any plugin's tests can subclass it; :class:`PluginConformance` includes it."""

    plugin: ClassVar[object]
    connector_type: ClassVar[str] = ""

    def installed_type(self) -> str:
        return self.connector_type or str(getattr(self, "wire", ""))

    def test_loads_through_its_entry_point(self) -> None:
        found = [
            ep
            for ep in md.entry_points(group=hookspecs.PROJECT)
            if ep.value.split(":")[0] == type(self.plugin).__module__
        ]
        require(
            bool(found),
            "entry-point",
            expected=f"an entry point in group 'patchwire' naming {type(self.plugin).__module__}",
            observed="none installed (is the distribution installed, pip install -e .?)",
            frame=type(self.plugin).__module__,
        )
        package = type(self.plugin).__module__.split(".")[0]
        dist = found[0].dist.name if found[0].dist is not None else ""
        saved = os.environ.get(ALLOWLIST_ENV)
        os.environ[ALLOWLIST_ENV] = dist
        try:
            host = PluginHost()
            registered = host.registries.connectors.get(self.installed_type())
            failures = [p for p in host.plugins if getattr(p, "error", None)]
        finally:
            if saved is None:
                os.environ.pop(ALLOWLIST_ENV, None)
            else:
                os.environ[ALLOWLIST_ENV] = saved
        require(
            registered is not None and registered.__module__.split(".")[0] == package,
            "entry-point",
            expected=f"distribution {dist!r} registers connector type {self.installed_type()!r}",
            observed=f"registered {registered!r}; load problems: {failures!r}",
            frame=found[0].value,
        )

    def test_states_a_valid_contract_version(self) -> None:
        stated = getattr(self.plugin, "PATCHWIRE_CONTRACT", None)
        major = hookspecs.CONTRACT_VERSION.split(".")[0]
        ok = isinstance(stated, str) and stated.split(".")[0] == major
        require(
            ok and isinstance(stated, str) and all(p.isdigit() for p in stated.split(".")),
            "contract-version",
            expected=f'PATCHWIRE_CONTRACT a string like "{hookspecs.CONTRACT_VERSION}"'
            f" (major {major})",
            observed=repr(stated),
            frame=f"{type(self.plugin).__module__}.{type(self.plugin).__qualname__}",
        )


class PluginConformance(InstalledPluginChecks, SimulatedSuite):
    """Subclass with ``plugin``, ``wire`` and ``model`` (and ``embed_model`` for a
    connector that embeds) to check the plugin as installed and its capabilities."""

    embed_model: str = ""

    def _calls(self, hub: Hub) -> dict[Capability, Callable[[], Awaitable[Any]]]:
        model = hub.model(f"{self.connector_name}:{self.model}")
        embedder = hub.model(f"{self.connector_name}:{self.embed_model or self.model}")

        async def stream() -> Any:
            return [c async for c in model.stream(PROMPT, max_tokens=16)]

        return {
            Capability.COMPLETE: lambda: model.complete(PROMPT, max_tokens=16),
            Capability.STREAM: stream,
            Capability.EMBED: lambda: embedder.embed("conformance"),
            Capability.TOOLS: lambda: model.complete(
                "weather in Paris?", tools=[WEATHER], tool_choice="required", max_tokens=256
            ),
            Capability.STRUCTURED_OUTPUT: lambda: model.complete(
                PROMPT, output=ANSWER, max_tokens=512
            ),
        }

    def _claimed(self) -> frozenset[Capability]:
        cls = self.connector_class()
        return frozenset(cls.capabilities) if cls is not None else frozenset()

    async def test_claimed_capabilities_work(self, conformance_host: PluginHost) -> None:
        async with self.run(conformance_host) as run:
            claimed = self._claimed()
            for capability, call in self._calls(run.hub).items():
                if capability not in claimed:
                    continue
                error = await run.error_of(call())
                require(
                    error is None,
                    "claimed-works",
                    expected=f"'{capability}' (claimed in capabilities) returns a result",
                    observed=f"{error}",
                    frame=run.frame(error),
                )
            records = [r for r in run.records if r.reply is not None]
            if Capability.TOOLS in claimed:
                self._check_tool_calls(run, records)

    def _check_tool_calls(self, run: Any, records: list[Any]) -> None:
        sent = [r.reply for r in records if r.reply.tool_calls]
        require(
            bool(sent),
            "claimed-works",
            expected="the tools request reaches the server as a tools request",
            observed="the server saw no tools in any request",
            frame=run.frame(),
        )

    async def test_unclaimed_capabilities_are_refused_before_sending(
        self, conformance_host: PluginHost
    ) -> None:
        async with self.run(conformance_host) as run:
            claimed = self._claimed()
            for capability, call in self._calls(run.hub).items():
                if capability in claimed:
                    continue
                before = run.requests
                error = await run.error_of(call())
                require(
                    isinstance(error, InvalidRequestError) and run.requests == before,
                    "unclaimed-refused",
                    expected=f"'{capability}' (not claimed) refused as invalid_request,"
                    " with no request sent",
                    observed=f"{error!r:.200}; {run.requests - before} request(s) sent",
                    frame=run.frame(error),
                )
