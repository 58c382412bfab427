"""Storage backends configured like everything else: ``[backends.NAME]`` tables.

::

    [hub]
    limiter_backend = "redis"            # what connectors use unless they choose
    cache_backend = "memory"

    [backends.redis]                     # type defaults to the table name
    url = "env:REDIS_URL"                # a reference when the URL carries a password
    prefix = "prod"

    [backends.eu]                        # a second server, chosen per connector
    type = "redis"
    url = "rediss://redis-eu.internal:6380/0"
    password = "env:REDIS_EU_PASSWORD"

    [connectors.openai]
    limiter_backend = "eu"
    [connectors.openai.cache]
    backend = "redis"

A name a connector (or ``[hub]``) selects is a ``[backends.NAME]`` table, or else an
installed backend type used with an empty table (``memory``). Each connector gets its own
backend instance from the factory, which receives its table as ``table`` (a
:class:`BackendTable`), among the keywords described in :func:`call_factory`.

Checked at load, naming the table and key: every table is a table with a known ``type``;
its keys are the ones the type's factories declare (``factory.settings``, a mapping of
:class:`patchwire.connector.Setting`, as a connector class declares its own); a secret
setting, and any key core knows to hold a credential (``password``, ``token``...), is a
reference, never a literal; a URL (``url`` or ``*_url``) that carries a password is a
reference as a whole; and every selection names a backend that exists and provides what
it is selected for.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import attrs

from patchwire.config_checks import SECRET_SETTINGS
from patchwire.config_table import Table
from patchwire.config_values import Where, check_reference, shown
from patchwire.secrets import split_reference

if TYPE_CHECKING:
    from patchwire.clock import Clock
    from patchwire.config import ConnectorConfig, HubConfig
    from patchwire.registry import Registries
    from patchwire.secrets import SecretResolver

__all__ = ["BackendConfig", "BackendTable", "Backends", "call_factory", "parse_backends"]

_CACHE, _LIMITER = "cache", "limiter"


@attrs.frozen
class BackendConfig:
    """One ``[backends.NAME]`` table: which backend type, and its own settings."""

    name: str
    type: str
    settings: Mapping[str, Any] = attrs.field(factory=dict)
    where: Where = Where("<defaults>", "")


def parse_backends(
    raw: Any, where: Where, schemes: Mapping[str, object]
) -> dict[str, BackendConfig]:
    """``[backends]`` as read by core's loader: what core can check without the plugins
    (tables, ``type``, credentials); :class:`Backends` checks the rest against them."""
    if not isinstance(raw, Mapping):
        raise where.error(None, f"expected a table of [backends.NAME] tables, got {shown(raw)}")
    out: dict[str, BackendConfig] = {}
    for name, table in raw.items():
        w = where.child(str(name))
        if not isinstance(table, Mapping):
            raise w.error(None, f"expected a table, got {shown(table)}")
        btype = table.get("type", name)
        if not isinstance(btype, str) or not btype:
            raise w.error(
                "type", f"expected a backend type name such as 'redis', got {shown(btype)}"
            )
        settings = {k: v for k, v in table.items() if k != "type"}
        for key, value in settings.items():
            if key in SECRET_SETTINGS:
                check_reference(value, key, w, schemes)
            elif key == "url" or key.endswith("_url"):
                _check_url(value, key, w, schemes)
        out[str(name)] = BackendConfig(str(name), btype, settings, w)
    return out


def _check_url(value: Any, key: str, where: Where, schemes: Mapping[str, object]) -> None:
    if not isinstance(value, str):
        raise where.error(key, f"expected a URL or a reference to one, got {shown(value)}")
    parts = split_reference(value)
    if parts is not None and parts[0] in schemes:
        return
    try:
        password = urlsplit(value).password
    except ValueError:
        password = None  # the backend's own parser says what is wrong with it
    if password is not None:
        # Never echoed: the value holds a credential.
        raise where.error(
            key,
            'carries a password: reference the whole URL instead (e.g. "env:REDIS_URL" or'
            ' "file:/run/secrets/redis_url"), or give the URL without it and'
            ' password = "env:REDIS_PASSWORD"',
        )


class BackendTable(Table):
    """A backend's ``[backends.NAME]`` table as its factory receives it.

    Typed reads fail naming the table and key (see :class:`patchwire.config_table.Table`);
    :meth:`resolve` reads a reference through the hub's secret sources, so the value is
    also masked in every log line from then on.
    """

    def __init__(self, config: BackendConfig, secrets: SecretResolver) -> None:
        super().__init__(config.settings, config.where)
        self.name = config.name
        self.type = config.type
        self._secrets = secrets

    def resolve(self, key: str) -> str | None:
        """The value of ``key``: read through its source when it is a reference (always
        so for a secret setting, checked at load), as written otherwise."""
        value = self.raw.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.error(key, f"expected a string or a reference, got {shown(value)}")
        parts = split_reference(value)
        if parts is None or parts[0] not in self._secrets.schemes:
            return value
        return self._secrets.resolve(value, where=f"[{self.where.table}] {key}").reveal()

    def protect(self, value: str) -> None:
        """Mask ``value`` in logs like a loaded secret (a password found inside a URL)."""
        self._secrets.protect(value)

    def __repr__(self) -> str:
        # The keys only: values are the factory's to show, and some are references.
        return f"BackendTable({self.where.table or self.name!r}, keys={sorted(self.raw)})"


def call_factory(factory: Callable[..., Any], **offered: Any) -> Any:
    """Call a backend factory with the keywords it accepts among ``offered``.

    Offered today: ``clock``, ``table`` (its :class:`BackendTable`), ``connector`` (the
    name of the connector it serves) and, for caches, ``max_entries`` and
    ``default_ttl``. Like hook arguments, the keywords only ever grow, and a factory
    takes the subset it needs (or ``**kwargs``), so older factories keep working.
    """
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return factory(**offered)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return factory(**offered)
    names = {p.name for p in params}
    return factory(**{k: v for k, v in offered.items() if k in names})


class Backends:
    """Builds each connector's limiter and cache backends from the hub's configuration.

    Construction checks every ``[backends.NAME]`` table against the installed factories
    and every selection against the tables and types, so a mistake fails at load.
    """

    def __init__(
        self, config: HubConfig, registries: Registries, clock: Clock, secrets: SecretResolver
    ) -> None:
        self._config = config
        self._factories = {
            _LIMITER: dict(registries.limiter_backends),
            _CACHE: dict(registries.cache_backends),
        }
        self._clock = clock
        self._secrets = secrets
        for table in config.backends.values():
            self._check_table(table)
        hub = Where(config.source, "hub")
        self._table(_LIMITER, config.limiter_backend, hub, "limiter_backend")
        self._table(_CACHE, config.cache_backend, hub, "cache_backend")
        for connector in config.connectors.values():
            self.check(connector)

    def check(self, connector: ConnectorConfig) -> None:
        """The connector's selections name backends that exist (ConfigError otherwise)."""
        if connector.limiter_backend is not None:
            self._table(_LIMITER, connector.limiter_backend, connector.where, "limiter_backend")
        if connector.cache.backend is not None:
            self._table(_CACHE, connector.cache.backend, connector.where.child("cache"), "backend")

    def limiter(self, connector: ConnectorConfig) -> Any:
        name = connector.limiter_backend or self._config.limiter_backend
        table = self._table(_LIMITER, name, connector.where, "limiter_backend")
        return self._build(_LIMITER, table, connector=connector.name)

    def named_limiter(self, name: str, where: Where, key: str) -> Any:
        """The limiter backend ``[backends.NAME]`` builds, for stores beside a connector's
        buckets (per-principal budgets and tokens, ``[principals]``)."""
        return self._build(_LIMITER, self._table(_LIMITER, name, where, key), connector=None)

    def cache(self, connector: ConnectorConfig) -> Any:
        name = connector.cache.backend or self._config.cache_backend
        table = self._table(_CACHE, name, connector.where.child("cache"), "backend")
        return self._build(
            _CACHE,
            table,
            connector=connector.name,
            max_entries=connector.cache.max_entries,
            default_ttl=connector.cache.ttl,
        )

    def _build(self, kind: str, table: BackendConfig, **offered: Any) -> Any:
        factory = self._factories[kind][table.type]
        return call_factory(
            factory,
            clock=self._clock,
            table=BackendTable(table, self._secrets),
            **offered,
        )

    def _table(self, kind: str, name: str, where: Where, key: str) -> BackendConfig:
        table = self._config.backends.get(name)
        installed = self._factories[kind]
        if table is None:
            if name not in installed:
                tables = ", ".join(sorted(self._config.backends)) or "none"
                raise where.error(
                    key,
                    f"unknown {kind} backend '{name}': no [backends.{name}] table (tables:"
                    f" {tables}) and no installed {kind} backend type of that name (installed:"
                    f" {', '.join(sorted(installed)) or 'none'})",
                )
            return BackendConfig(name, name, {}, Where(self._config.source, f"backends.{name}"))
        if table.type not in installed:
            raise where.error(
                key,
                f"[backends.{name}] is of type '{table.type}', which provides no {kind}"
                f" backend (installed {kind} backends: {', '.join(sorted(installed)) or 'none'})",
            )
        return table

    def _check_table(self, table: BackendConfig) -> None:
        factories = [f[table.type] for f in self._factories.values() if table.type in f]
        if not factories:
            known = sorted(set(self._factories[_LIMITER]) | set(self._factories[_CACHE]))
            raise table.where.error(
                "type",
                f"unknown backend type '{table.type}'; installed: {', '.join(known)}. Install"
                f" the plugin that provides it (e.g. pip install patchwire-{table.type})",
            )
        declared: dict[str, Any] = {}
        for factory in factories:
            settings = getattr(factory, "settings", None)
            if settings is None:
                return  # a factory that declares nothing takes its table unchecked
            declared.update(settings)
        checked = BackendTable(table, self._secrets)
        checked.check_keys(sorted(declared))
        for key, spec in declared.items():
            if key not in table.settings:
                continue
            if spec.secret:
                check_reference(table.settings[key], key, table.where, self._secrets.schemes)
            else:
                what = " or ".join(t.__name__ for t in spec.types)
                checked.get(key, tuple(spec.types), spec.default, what)
