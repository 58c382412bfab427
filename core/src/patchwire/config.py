"""Configuration: TOML (or the same structure as a dict) into validated, frozen settings.

Every problem is a :class:`ConfigError` that names the file, the table and the key and
says what was expected; an unknown key suggests the closest known one. Credentials are
references (``env:NAME``, ``file:/path``...), and a literal value where a reference
belongs is refused with a message saying how to reference it instead.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import attrs

from patchwire.backends import BackendConfig, parse_backends
from patchwire.config_checks import SECRET_SETTINGS
from patchwire.config_checks import check_auth as _auth
from patchwire.config_checks import check_base_url as _base_url
from patchwire.config_checks import check_name as _check_name
from patchwire.config_checks import check_tls as _tls
from patchwire.config_table import Table
from patchwire.config_values import Where, check_reference, shown
from patchwire.config_values import check_keys as _check_keys
from patchwire.config_values import read as _get
from patchwire.config_values import subtable as _table
from patchwire.errors import Category, ConfigError
from patchwire.limiter import LimitsConfig
from patchwire.prices.settings import prices_from_config
from patchwire.prices.table import PriceSpec
from patchwire.principals.settings import PrincipalsConfig, parse_principals
from patchwire.proxy import check_proxy
from patchwire.transforms.base import (
    ROUTE_TRANSFORM_KEYS,
    TRANSFORM_KEYS,
    TransformConfig,
    parse_transform_config,
    route_transforms,
)

__all__ = [
    "SECRET_SETTINGS",
    "BatchConfig",
    "BreakerConfig",
    "CacheConfig",
    "ConnectorConfig",
    "HubConfig",
    "RetryConfig",
    "RouteConfig",
    "Where",
    "check_reference",
    "load_config",
    "parse_config",
    "shown",
]

# Documented ranges (each error states the range it enforces). Durations are seconds.
_DAY = 86_400.0
_YEAR = 365 * _DAY
_MAX_ATTEMPTS = 100
_MAX_CONCURRENCY = 100_000
_MAX_CACHE_ENTRIES = 100_000_000
_MAX_MIN_CALLS = 1_000_000
_MAX_PROBES = 1_000
_MAX_BATCH = 100_000
_MAX_RATE = 1e12  # requests or tokens per window
_MAX_PRIORITY = 1_000_000_000


@attrs.frozen
class RetryConfig:
    max_attempts: int = 4
    initial: float = 1.0
    cap: float = 30.0
    deadline: float | None = 120.0
    jitter: str = "full"
    max_hint: float | None = None
    budget_ratio: float = 0.5


@attrs.frozen
class CacheConfig:
    ttl: float = 3600.0
    max_entries: int = 10_000
    backend: str | None = None  # None: the hub's cache_backend


@attrs.frozen
class BreakerConfig:
    enabled: bool = True
    failure_ratio: float = 0.5
    min_calls: int = 20
    window: float = 30.0
    open_for: float = 15.0
    half_open_probes: int = 1


@attrs.frozen
class BatchConfig:
    linger: float = 0.002
    max_size: int | None = None  # None: the connector's own maximum


@attrs.frozen
class ConnectorConfig:
    name: str
    type: str
    base_url: str | None = None
    api_key: str | None = None  # a reference
    api_version: str | None = None
    #: what to do with a sampling knob the connector cannot send: "drop" (with a
    #: param_dropped event) or "error" (InvalidRequestError); see patchwire.features
    unsupported_params: str = "drop"
    timeout: float = 30.0
    embed_timeout: float = 120.0
    retry: RetryConfig = RetryConfig()
    limits: LimitsConfig = LimitsConfig()
    limiter_backend: str | None = None  # None: the hub's limiter_backend
    cache: CacheConfig = CacheConfig()
    breaker: BreakerConfig = BreakerConfig()
    batch: BatchConfig = BatchConfig()
    auth: Mapping[str, Any] | None = None
    tls: Mapping[str, Any] | None = None
    proxy: str | None = None  # 'direct', a URL or a reference; None: [hub] proxy (patchwire.proxy)
    escalate: frozenset[Category] = frozenset()
    settings: Mapping[str, Any] = attrs.field(factory=dict)
    where: Where = Where("<defaults>", "")
    #: on_context_overflow, repair_attempts, context_windows (patchwire.transforms)
    transforms: TransformConfig = TransformConfig()


@attrs.frozen
class RouteConfig:
    name: str
    targets: tuple[str, ...]
    priority_targets: tuple[str, ...] = ()
    priority_threshold: int = 1
    #: on_context_overflow / repair_attempts set for calls on this route, over each connector's
    transforms: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class HubConfig:
    connectors: Mapping[str, ConnectorConfig] = attrs.field(factory=dict)
    routes: Mapping[str, RouteConfig] = attrs.field(factory=dict)
    prices: Mapping[tuple[str, str], PriceSpec] = attrs.field(factory=dict)
    escalate: frozenset[Category] = frozenset(
        {Category.AUTH, Category.INVALID_REQUEST, Category.INTEGRATION}
    )
    dead_letter: str | None = None
    proxy: str | None = None  # 'direct', a URL or a reference; None: the environment
    source: str = "<defaults>"
    #: [backends.NAME] tables (patchwire.backends), and what connectors use by default
    backends: Mapping[str, BackendConfig] = attrs.field(factory=dict)
    limiter_backend: str = "memory"
    cache_backend: str = "memory"
    #: the [principals] table (patchwire.principals.settings)
    principals: PrincipalsConfig = attrs.field(factory=PrincipalsConfig)
    #: [exporters.NAME] tables, each handed to the plugin that takes it (Prometheus, OTel)
    exporters: Mapping[str, Table] = attrs.field(factory=dict)


# --- tables --------------------------------------------------------------------------------


def _retry(raw: Mapping[str, Any], where: Where) -> RetryConfig:
    _check_keys(raw, [f.name for f in attrs.fields(RetryConfig)], where)
    d = RetryConfig()
    jitter = _get(raw, "jitter", (str,), d.jitter, where)
    if jitter not in ("full", "decorrelated"):
        raise where.error("jitter", f"expected 'full' or 'decorrelated', got {shown(jitter)}")
    cfg = RetryConfig(
        max_attempts=_get(
            raw, "max_attempts", (int,), d.max_attempts, where, minimum=1, maximum=_MAX_ATTEMPTS
        ),
        initial=_get(raw, "initial", (int, float), d.initial, where, minimum=0, maximum=_DAY),
        cap=_get(raw, "cap", (int, float), d.cap, where, minimum=0, maximum=_DAY),
        deadline=_get(raw, "deadline", (int, float), d.deadline, where, above=0, maximum=_DAY),
        jitter=jitter,
        max_hint=_get(raw, "max_hint", (int, float), d.max_hint, where, above=0, maximum=_DAY),
        budget_ratio=_get(
            raw, "budget_ratio", (int, float), d.budget_ratio, where, minimum=0, maximum=100
        ),
    )
    if cfg.cap < cfg.initial:
        raise where.error("cap", f"must be >= initial ({cfg.initial:g}), got {cfg.cap:g}")
    return cfg


def _limits(raw: Mapping[str, Any], where: Where) -> LimitsConfig:
    names = [f.name for f in attrs.fields(LimitsConfig)]
    _check_keys(raw, names, where)
    values: dict[str, Any] = {}
    for name in names:
        concurrency = name == "max_concurrency"
        types: tuple[type, ...] = (int,) if concurrency else (int, float)
        most = _MAX_CONCURRENCY if concurrency else _MAX_RATE
        value = _get(raw, name, types, None, where, above=0, maximum=most)
        if value is not None:
            values[name] = value
    return LimitsConfig(**values)


def _cache(raw: Mapping[str, Any], where: Where) -> CacheConfig:
    _check_keys(raw, [f.name for f in attrs.fields(CacheConfig)], where)
    d = CacheConfig()
    return CacheConfig(
        ttl=_get(raw, "ttl", (int, float), d.ttl, where, minimum=0, maximum=_YEAR),
        max_entries=_get(
            raw, "max_entries", (int,), d.max_entries, where, minimum=1, maximum=_MAX_CACHE_ENTRIES
        ),
        backend=_get(raw, "backend", (str,), d.backend, where),
    )


def _breaker(raw: Mapping[str, Any], where: Where) -> BreakerConfig:
    _check_keys(raw, [f.name for f in attrs.fields(BreakerConfig)], where)
    d = BreakerConfig()
    return BreakerConfig(
        enabled=_get(raw, "enabled", (bool,), d.enabled, where),
        failure_ratio=_get(
            raw, "failure_ratio", (int, float), d.failure_ratio, where, above=0, maximum=1
        ),
        min_calls=_get(
            raw, "min_calls", (int,), d.min_calls, where, minimum=1, maximum=_MAX_MIN_CALLS
        ),
        window=_get(raw, "window", (int, float), d.window, where, above=0, maximum=_DAY),
        open_for=_get(raw, "open_for", (int, float), d.open_for, where, above=0, maximum=_DAY),
        half_open_probes=_get(
            raw,
            "half_open_probes",
            (int,),
            d.half_open_probes,
            where,
            minimum=1,
            maximum=_MAX_PROBES,
        ),
    )


def _batch(raw: Mapping[str, Any], where: Where) -> BatchConfig:
    _check_keys(raw, [f.name for f in attrs.fields(BatchConfig)], where)
    d = BatchConfig()
    return BatchConfig(
        linger=_get(raw, "linger", (int, float), d.linger, where, minimum=0, maximum=10),
        max_size=_get(raw, "max_size", (int,), d.max_size, where, minimum=1, maximum=_MAX_BATCH),
    )


def _categories(value: Any, key: str, where: Where) -> frozenset[Category]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise where.error(key, "expected a list of category names")
    valid = [c.value for c in Category if c is not Category.CONFIG]
    out = set()
    for item in value:
        if item not in valid:
            raise where.error(
                key, f"unknown category ({shown(item)}); categories: {', '.join(valid)}"
            )
        out.add(Category(item))
    return frozenset(out)


_COMMON_KEYS = (
    "type",
    "base_url",
    "api_key",
    "api_version",
    "unsupported_params",
    "timeout",
    "embed_timeout",
    "retry",
    "limits",
    "limiter_backend",
    "cache",
    "breaker",
    "batch",
    "auth",
    "tls",
    "proxy",
    "escalate",
    "prices",
    *TRANSFORM_KEYS,
)


def _unsupported_params(raw: Mapping[str, Any], where: Where) -> str:
    value = _get(raw, "unsupported_params", (str,), "drop", where)
    if value not in ("drop", "error"):
        raise where.error("unsupported_params", f"expected 'drop' or 'error', got {shown(value)}")
    return str(value)


def _connector(
    name: str,
    raw: Any,
    where: Where,
    connector_types: Mapping[str, Any],
    schemes: Mapping[str, object],
    prices: dict[tuple[str, str], PriceSpec],
    auth_secrets: Mapping[str, Collection[str]],
) -> ConnectorConfig:
    if not isinstance(raw, Mapping):
        raise where.error(None, f"expected a table, got {type(raw).__name__}")
    ctype = _get(raw, "type", (str,), name, where)
    cls = connector_types.get(ctype)
    if cls is None:
        installed = ", ".join(sorted(connector_types)) or "none"
        hint = difflib.get_close_matches(ctype, list(connector_types), n=1)
        did = f" Did you mean '{hint[0]}'?" if hint else ""
        # The table name is a key and may be shown; a written 'type' is a value and is not.
        what = f"({shown(ctype)})" if "type" in raw else f"'{ctype}' (the table's name)"
        plugin = "patchwire-TYPE" if "type" in raw else f"patchwire-{ctype}"
        raise where.error(
            "type",
            f"unknown connector type {what}.{did} Installed connector types: {installed}."
            f" Install the plugin that provides it (e.g. pip install {plugin}),"
            " or set 'type' to one of the installed types",
        )
    specific: Mapping[str, Any] = getattr(cls, "settings", {})
    _check_keys(raw, list(_COMMON_KEYS) + list(specific), where)
    settings: dict[str, Any] = {}
    for key, spec in specific.items():
        if key not in raw:
            continue
        if spec.secret:
            settings[key] = check_reference(raw[key], key, where, schemes)
        else:
            settings[key] = _get(raw, key, tuple(spec.types), spec.default, where)
    api_key = raw.get("api_key")
    if api_key is not None:
        api_key = check_reference(api_key, "api_key", where, schemes)
    auth = raw.get("auth")
    if auth is not None:
        _auth(auth, name, where, schemes, auth_secrets)
    tls = raw.get("tls")
    if tls is not None:
        _tls(tls, where, schemes)
    for model, entry in _table(raw, "prices", where).items():
        prices[(ctype, model)] = _price(entry, where.child("prices"), model)
    base_url = _get(raw, "base_url", (str,), None, where)
    if base_url is not None:
        _base_url(base_url, where)
    return ConnectorConfig(
        name=name,
        type=ctype,
        base_url=base_url,
        api_key=api_key,
        api_version=_get(raw, "api_version", (str,), None, where),
        unsupported_params=_unsupported_params(raw, where),
        timeout=_get(raw, "timeout", (int, float), 30.0, where, above=0, maximum=_DAY),
        embed_timeout=_get(raw, "embed_timeout", (int, float), 120.0, where, above=0, maximum=_DAY),
        retry=_retry(_table(raw, "retry", where), where.child("retry")),
        limits=_limits(_table(raw, "limits", where), where.child("limits")),
        limiter_backend=_get(raw, "limiter_backend", (str,), None, where),
        cache=_cache(_table(raw, "cache", where), where.child("cache")),
        breaker=_breaker(_table(raw, "breaker", where), where.child("breaker")),
        batch=_batch(_table(raw, "batch", where), where.child("batch")),
        auth=dict(auth) if auth is not None else None,
        tls=dict(tls) if tls is not None else None,
        proxy=check_proxy(raw["proxy"], "proxy", where, schemes) if "proxy" in raw else None,
        escalate=_categories(raw["escalate"], "escalate", where)
        if "escalate" in raw
        else frozenset(),
        settings=settings,
        where=where,
        transforms=parse_transform_config(raw, where),
    )


def _price(entry: Any, where: Where, model: str) -> PriceSpec:
    return prices_from_config(entry, where.child(model))


def _route(name: str, raw: Any, where: Where) -> RouteConfig:
    if not isinstance(raw, Mapping):
        raise where.error(None, "expected a table with 'targets'")
    _check_keys(
        raw, ["targets", "priority_targets", "priority_threshold", *ROUTE_TRANSFORM_KEYS], where
    )
    targets = raw.get("targets")
    if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
        raise where.error("targets", 'expected a list of "connector:model" strings')
    if not targets:
        raise where.error("targets", "a route needs at least one target")
    priority = raw.get("priority_targets", [])
    if not isinstance(priority, list) or not all(isinstance(t, str) for t in priority):
        raise where.error("priority_targets", 'expected a list of "connector:model" strings')
    for key, items in (("targets", targets), ("priority_targets", priority)):
        for number, t in enumerate(items, 1):
            if ":" not in t:
                raise where.error(
                    key, f'target #{number} ({shown(t)}) must be written "connector:model"'
                )
    return RouteConfig(
        name=name,
        targets=tuple(targets),
        priority_targets=tuple(priority),
        priority_threshold=_get(
            raw,
            "priority_threshold",
            (int,),
            1,
            where,
            minimum=-_MAX_PRIORITY,
            maximum=_MAX_PRIORITY,
        ),
        transforms=route_transforms(raw, where),
    )


def parse_config(
    data: Mapping[str, Any],
    *,
    source: str = "<dict>",
    connector_types: Mapping[str, Any],
    secret_schemes: Mapping[str, object],
    auth_secrets: Mapping[str, Collection[str]] | None = None,
) -> HubConfig:
    """Validate a configuration mapping (a parsed TOML file or ``Hub.from_dict`` input).

    ``auth_secrets`` maps an auth scheme's name to the settings it declared secret
    (``register.scheme(name, factory, secrets=...)``); with :data:`SECRET_SETTINGS` they
    must be references, whichever plugin provides the scheme.
    """
    root = Where(source, "")
    if not isinstance(data, Mapping):
        raise root.error(None, "the configuration must be a table")
    _check_keys(
        data, ["connectors", "routes", "hub", "prices", "backends", "principals", "exporters"], root
    )
    prices: dict[tuple[str, str], PriceSpec] = {}
    connectors: dict[str, ConnectorConfig] = {}
    for name, raw in _table(data, "connectors", root).items():
        _check_name(name, root.child("connectors"), "connector")
        connectors[name] = _connector(
            name,
            raw,
            root.child("connectors").child(name),
            connector_types,
            secret_schemes,
            prices,
            auth_secrets or {},
        )
    for key, entry in _table(data, "prices", root).items():
        if ":" not in key:
            raise root.child("prices").error(key, 'price keys are written "connector_type:model"')
        ctype, model = key.split(":", 1)
        prices[(ctype, model)] = _price(entry, root.child("prices"), key)
    routes: dict[str, RouteConfig] = {}
    for name, raw in _table(data, "routes", root).items():
        _check_name(name, root.child("routes"), "route")
        w = root.child("routes").child(name)
        route = _route(name, raw, w)
        for t in route.targets + route.priority_targets:
            conn = t.split(":", 1)[0]
            if conn not in connectors and conn not in connector_types:
                raise w.error(
                    "targets",
                    f"target '{conn}:...' names connector '{conn}', which is neither configured"
                    f" ({', '.join(sorted(connectors)) or 'none configured'}) nor an installed type",
                )
        if name in connectors:
            raise w.error(None, f"route name '{name}' is also a connector name; rename one")
        routes[name] = route
    hub = _table(data, "hub", root)
    hw = root.child("hub")
    _check_keys(hub, ["escalate", "dead_letter", "limiter_backend", "cache_backend", "proxy"], hw)
    escalate = HubConfig().escalate
    if "escalate" in hub:
        escalate = _categories(hub["escalate"], "escalate", hw)
    return HubConfig(
        connectors=connectors,
        routes=routes,
        prices=prices,
        escalate=escalate,
        dead_letter=_get(hub, "dead_letter", (str,), None, hw),
        proxy=check_proxy(hub["proxy"], "proxy", hw, secret_schemes) if "proxy" in hub else None,
        source=source,
        backends=parse_backends(data.get("backends", {}), root.child("backends"), secret_schemes),
        limiter_backend=_get(hub, "limiter_backend", (str,), "memory", hw),
        cache_backend=_get(hub, "cache_backend", (str,), "memory", hw),
        principals=parse_principals(
            _table(data, "principals", root), root.child("principals"), secret_schemes
        ),
        exporters=_exporters(_table(data, "exporters", root), root.child("exporters")),
    )


def _exporters(raw: Mapping[str, Any], where: Where) -> dict[str, Table]:
    """``[exporters.NAME]`` tables; their keys are the exporter plugin's to check."""
    out: dict[str, Table] = {}
    for name, table in raw.items():
        if not isinstance(table, Mapping):
            raise where.error(str(name), f"expected a table [exporters.{name}], got {shown(table)}")
        out[str(name)] = Table(table, where.child(str(name)))
    return out


def load_config(
    path: str | Path,
    *,
    connector_types: Mapping[str, Any],
    secret_schemes: Mapping[str, object],
    auth_secrets: Mapping[str, Collection[str]] | None = None,
) -> HubConfig:
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"configuration file {p} does not exist", source=str(p)) from None
    except OSError as exc:
        raise ConfigError(
            f"configuration file {p} could not be read: {exc.strerror}", source=str(p)
        ) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not valid TOML: {exc}", source=str(p)) from None
    return parse_config(
        data,
        source=str(p),
        connector_types=connector_types,
        secret_schemes=secret_schemes,
        auth_secrets=auth_secrets,
    )
