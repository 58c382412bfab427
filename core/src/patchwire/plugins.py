"""Plugin discovery: entry points in the group ``patchwire``, each loaded on its own.

A plugin that fails to import, targets another contract major version, or raises while
registering is reported (``patchwire plugins`` shows the error) and the others keep
working; ``strict=True`` makes any of that fatal. ``PATCHWIRE_LOAD_PLUGINS`` is an
allowlist of distribution names (set but empty: none), so tests and debugging can run on
core alone. Core's own plugins are always registered, the same way as any other.
"""

from __future__ import annotations

import importlib.metadata as md
import os
from collections.abc import Callable, Iterable, Sequence
from functools import cached_property
from types import ModuleType
from typing import Any

import attrs
import pluggy

from patchwire import hookspecs
from patchwire.registry import (
    AuthRegistrar,
    BackendRegistrar,
    CommandRegistrar,
    ConnectorRegistrar,
    MetricsFormatRegistrar,
    Registries,
    SimulatorRegistrar,
)

__all__ = ["PluginError", "PluginHost", "PluginInfo", "default_host"]

ENTRY_POINT_GROUP = "patchwire"
ALLOWLIST_ENV = "PATCHWIRE_LOAD_PLUGINS"
BUILTIN_DISTRIBUTION = "patchwire"


class PluginError(RuntimeError):
    """A plugin could not be loaded or registered (raised only in strict mode)."""


@attrs.define
class PluginInfo:
    name: str
    distribution: str
    version: str
    builtin: bool = False
    hooks: list[str] = attrs.field(factory=list)
    error: str | None = None
    contract: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


def _major(version: str) -> str:
    return version.split(".", 1)[0]


def _contract_of(obj: object) -> str | None:
    value = getattr(obj, "PATCHWIRE_CONTRACT", None)
    return None if value is None else str(value)


def _builtin_modules() -> list[tuple[str, ModuleType]]:
    from patchwire.builtin import BUILTIN_PLUGINS

    return BUILTIN_PLUGINS()


class PluginHost:
    """A plugin manager with its registries, built once and cached."""

    def __init__(
        self,
        *,
        strict: bool = False,
        entry_points: Iterable[md.EntryPoint] | None = None,
        allowlist: Sequence[str] | None = None,
        load_entry_points: bool = True,
    ) -> None:
        self.strict = strict
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: list[PluginInfo] = []
        for name, module in _builtin_modules():
            self._register(module, PluginInfo(name, BUILTIN_DISTRIBUTION, _core_version(), True))
        if load_entry_points:
            self._load_entry_points(entry_points, allowlist)
        self._check_pending()

    # -- loading ------------------------------------------------------------------------

    def _fail(self, info: PluginInfo, message: str) -> None:
        info.error = message
        if self.strict:
            raise PluginError(f"plugin '{info.name}' ({info.distribution}): {message}")

    def _load_entry_points(
        self, entry_points: Iterable[md.EntryPoint] | None, allowlist: Sequence[str] | None
    ) -> None:
        if allowlist is None:
            raw = os.environ.get(ALLOWLIST_ENV)
            if raw is not None:
                allowlist = [p.strip() for p in raw.split(",") if p.strip()]
        eps = list(
            entry_points if entry_points is not None else md.entry_points(group=ENTRY_POINT_GROUP)
        )
        for ep in sorted(eps, key=lambda e: e.name):
            dist = ep.dist.name if ep.dist is not None else "?"
            version = ep.dist.version if ep.dist is not None else "?"
            if allowlist is not None and dist not in allowlist and ep.name not in allowlist:
                continue
            info = PluginInfo(ep.name, dist, version)
            self.plugins.append(info)
            try:
                obj = ep.load()
            except Exception as exc:
                self._fail(info, f"failed to import: {type(exc).__name__}: {exc}")
                continue
            self._register(obj, info, append=False)

    def _register(self, obj: object, info: PluginInfo, append: bool = True) -> None:
        if append:
            self.plugins.append(info)
        info.contract = _contract_of(obj)
        if info.contract is not None and _major(info.contract) != _major(
            hookspecs.CONTRACT_VERSION
        ):
            self._fail(
                info,
                f"built for patchwire plugin contract {info.contract}, but this patchwire"
                f" ({_core_version()}) speaks contract {hookspecs.CONTRACT_VERSION};"
                f" install a version of {info.distribution} built for contract"
                f" {_major(hookspecs.CONTRACT_VERSION)}.x",
            )
            return
        try:
            self.pm.register(obj, name=info.name)
        except Exception as exc:
            self._fail(info, f"failed to register: {type(exc).__name__}: {exc}")
            return
        info.hooks = sorted(caller.name for caller in (self.pm.get_hookcallers(obj) or []))

    def register(self, obj: object, name: str, *, distribution: str = "(test)") -> PluginInfo:
        """Register a plugin object directly (tests, embedding applications)."""
        info = PluginInfo(name, distribution, "0")
        self._register(obj, info)
        self._check_pending()
        self.__dict__.pop("registries", None)
        return info

    def unregister(self, name: str) -> None:
        self.pm.unregister(name=name)
        self.plugins = [p for p in self.plugins if p.name != name]
        self.__dict__.pop("registries", None)

    def _check_pending(self) -> None:
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            # A misspelt hook name: pin it on the plugin and unload it, loudly.
            name = self.pm.get_name(exc.plugin) if exc.plugin is not None else "?"
            info = next((p for p in self.plugins if p.name == name), None)
            if name is not None:
                self.pm.unregister(name=name)
            if info is not None:
                self._fail(info, f"implements an unknown hook: {exc}")
            else:
                raise
            self._check_pending()

    # -- registries -----------------------------------------------------------------------

    def _collect(self, hook_name: str, registrar: Any) -> None:
        caller = getattr(self.pm.hook, hook_name)
        # Call each implementation on its own so that one plugin raising leaves the others' registrations.
        for impl in reversed(caller.get_hookimpls()):
            registrar.current_plugin = impl.plugin_name
            kwargs = {arg: registrar for arg in impl.argnames}
            try:
                impl.function(**kwargs)
            except Exception as exc:
                info = next((p for p in self.plugins if p.name == impl.plugin_name), None)
                message = f"{hook_name} raised {type(exc).__name__}: {exc}"
                if info is not None:
                    self._fail(info, message)
                elif self.strict:
                    raise PluginError(message) from exc

    @cached_property
    def registries(self) -> Registries:
        connectors = ConnectorRegistrar()
        auth = AuthRegistrar()
        backends = BackendRegistrar()
        commands = CommandRegistrar()
        simulators = SimulatorRegistrar()
        metrics_formats = MetricsFormatRegistrar()
        self._collect("patchwire_register_connectors", connectors)
        self._collect("patchwire_register_auth", auth)
        self._collect("patchwire_register_backends", backends)
        self._collect("patchwire_register_commands", commands)
        self._collect("patchwire_register_simulators", simulators)
        self._collect("patchwire_register_metrics_formats", metrics_formats)
        owners = {}
        for r in (connectors, auth, backends, commands, simulators, metrics_formats):
            owners.update(r.owners)
        return Registries(
            connectors=dict(connectors.connectors),
            auth_schemes=dict(auth.schemes),
            secret_sources=dict(auth.sources),
            auth_secrets=dict(auth.secrets),
            limiter_backends=dict(backends.limiters),
            cache_backends=dict(backends.caches),
            commands=dict(commands.commands),
            simulators=dict(simulators.simulators),
            owners=owners,
            metrics_formats=dict(metrics_formats.formats),
        )

    @property
    def hook(self) -> Any:
        return self.pm.hook

    def describe(self) -> list[PluginInfo]:
        """Every plugin, with registration failures filled in (builds the registries)."""
        _ = self.registries
        return list(self.plugins)


def _core_version() -> str:
    from patchwire import __version__

    return __version__


_default: PluginHost | None = None


def default_host(factory: Callable[[], PluginHost] = PluginHost) -> PluginHost:
    """The process-wide plugin host, discovered once."""
    global _default
    if _default is None:
        _default = factory()
    return _default
