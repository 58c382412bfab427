"""What the setup hooks register into, and the registries they build.

Each registrar records which plugin registered what, so ``patchwire plugins`` can show it
and a name registered twice is reported against the plugin that tried to take it.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from patchwire.auth import AuthFactory
    from patchwire.connector import Connector
    from patchwire.metrics import MetricsSnapshot
    from patchwire.secrets import SecretSource

__all__ = [
    "AuthRegistrar",
    "BackendRegistrar",
    "Command",
    "CommandRegistrar",
    "ConnectorRegistrar",
    "DuplicateRegistration",
    "MetricsFormat",
    "MetricsFormatRegistrar",
    "Registries",
    "SimulatorRegistrar",
]


class DuplicateRegistration(ValueError):
    pass


class _Registrar:
    def __init__(self) -> None:
        self.current_plugin = "?"
        self.owners: dict[tuple[str, str], str] = {}

    def _claim(self, kind: str, name: str) -> None:
        key = (kind, name)
        owner = self.owners.get(key)
        if owner is not None:
            raise DuplicateRegistration(
                f"{kind} '{name}' is already registered by plugin '{owner}'"
            )
        self.owners[key] = self.current_plugin


class ConnectorRegistrar(_Registrar):
    def __init__(self) -> None:
        super().__init__()
        self.connectors: dict[str, type[Connector]] = {}

    def __call__(self, type_name: str, factory: type[Connector]) -> None:
        self._claim("connector type", type_name)
        self.connectors[type_name] = factory


class AuthRegistrar(_Registrar):
    def __init__(self) -> None:
        super().__init__()
        self.schemes: dict[str, AuthFactory] = {}
        self.sources: dict[str, SecretSource] = {}
        self.secrets: dict[str, frozenset[str]] = {}

    def scheme(self, name: str, factory: AuthFactory, *, secrets: Iterable[str] = ()) -> None:
        """``secrets`` names the settings that hold a credential: configuration must give
        them as references, and core refuses a literal at load (besides the settings every
        scheme treats as secret, ``patchwire.config.SECRET_SETTINGS``)."""
        self._claim("auth scheme", name)
        self.schemes[name] = factory
        self.secrets[name] = frozenset(secrets)

    def source(self, source: SecretSource) -> None:
        self._claim("secret source", source.scheme)
        self.sources[source.scheme] = source


class BackendRegistrar(_Registrar):
    def __init__(self) -> None:
        super().__init__()
        self.limiters: dict[str, Callable[..., Any]] = {}
        self.caches: dict[str, Callable[..., Any]] = {}

    def limiter(self, name: str, factory: Callable[..., Any]) -> None:
        self._claim("limiter backend", name)
        self.limiters[name] = factory

    def cache(self, name: str, factory: Callable[..., Any]) -> None:
        self._claim("cache backend", name)
        self.caches[name] = factory


@attrs.frozen
class Command:
    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    plugin: str


class CommandRegistrar(_Registrar):
    def __init__(self) -> None:
        super().__init__()
        self.commands: dict[str, Command] = {}

    def add(
        self,
        name: str,
        help: str,
        configure: Callable[[argparse.ArgumentParser], None],
        run: Callable[[argparse.Namespace], int],
    ) -> None:
        self._claim("command", name)
        self.commands[name] = Command(name, help, configure, run, self.current_plugin)


class SimulatorRegistrar(_Registrar):
    def __init__(self) -> None:
        super().__init__()
        self.simulators: dict[str, Callable[..., Any]] = {}

    def __call__(self, name: str, factory: Callable[..., Any]) -> None:
        self._claim("simulator", name)
        self.simulators[name] = factory


@attrs.frozen
class MetricsFormat:
    """An exposition of metrics snapshots served at ``path`` by ``hub.serve_metrics()``.

    ``render`` turns a snapshot into the response body; it runs per request and must not block.
    """

    path: str
    content_type: str
    render: Callable[[MetricsSnapshot], bytes | str]
    plugin: str


class MetricsFormatRegistrar(_Registrar):
    def __init__(self) -> None:
        super().__init__()
        self.formats: dict[str, MetricsFormat] = {}

    def __call__(
        self, path: str, content_type: str, render: Callable[[MetricsSnapshot], bytes | str]
    ) -> None:
        if not path.startswith("/") or path in ("/metrics.txt", "/metrics.json"):
            raise ValueError(
                f"metrics path {path!r} must start with '/' and not be core's"
                " /metrics.txt or /metrics.json"
            )
        self._claim("metrics path", path)
        self.formats[path] = MetricsFormat(path, content_type, render, self.current_plugin)


@attrs.frozen
class Registries:
    """Everything the loaded plugins registered, built once per plugin host."""

    connectors: Mapping[str, type[Connector]]
    auth_schemes: Mapping[str, AuthFactory]
    secret_sources: Mapping[str, SecretSource]
    limiter_backends: Mapping[str, Callable[..., Any]]
    cache_backends: Mapping[str, Callable[..., Any]]
    commands: Mapping[str, Command]
    simulators: Mapping[str, Callable[..., Any]]
    owners: Mapping[tuple[str, str], str]
    #: per auth scheme, the settings it declared secret (references only)
    auth_secrets: Mapping[str, frozenset[str]] = attrs.field(factory=dict)
    metrics_formats: Mapping[str, MetricsFormat] = attrs.field(factory=dict)
