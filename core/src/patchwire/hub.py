"""The Hub: configuration in, models and tools out, everything shared owned in one place.

``async with hub:`` owns one aiohttp session, every connector it creates (lazily, on first
use), their auth schemes, batchers and servers, and closes all of them on exit.
"""

from __future__ import annotations

import difflib
import os
import random
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import aiohttp

from patchwire.auth.base import AuthContext, AuthScheme, NoAuth
from patchwire.backends import Backends
from patchwire.cache import ResponseCache
from patchwire.classification import Classification
from patchwire.classify import classify_exception
from patchwire.clock import Clock, MonotonicClock
from patchwire.config import ConnectorConfig, HubConfig, load_config, parse_config
from patchwire.connector import Capability, Connector, ConnectorContext
from patchwire.errors import Category, ConfigError
from patchwire.escalation import DeadLetterFile, Failure
from patchwire.events import Event, EventBus, EventKind
from patchwire.logsink import LoggingSink
from patchwire.metrics import ConnectorMetrics, MetricsAggregator, MetricsSnapshot
from patchwire.model import Model, Tool
from patchwire.outgoing import Outgoing
from patchwire.pipeline import Pipeline, Target
from patchwire.plugins import PluginHost, default_host
from patchwire.prices import PriceTable
from patchwire.redact import Redactor, install_log_redaction
from patchwire.runtime import ConnectorRuntime
from patchwire.secrets import SecretResolver
from patchwire.transforms.driver import Healer

if TYPE_CHECKING:
    from patchwire.metrics_server import MetricsServer

__all__ = ["Hub"]

CONFIG_ENV = "PATCHWIRE_CONFIG"
USER_AGENT = "patchwire/0.1 (+https://pypi.org/project/patchwire/)"
_CREDENTIAL_KEY = {"bearer": "token", "api_key": "key"}


class Hub:
    """The application's entry point. ``Hub()`` uses defaults; see ``from_file`` and ``from_dict``."""

    def __init__(
        self,
        config: HubConfig | None = None,
        *,
        host: PluginHost | None = None,
        clock: Clock | None = None,
        seed: int | None = None,
    ) -> None:
        self.host = host or default_host()
        self.clock: Clock = clock or MonotonicClock()
        self.registries = self.host.registries
        self.config = config or HubConfig()
        self.redactor = Redactor()
        install_log_redaction()
        self.bus = EventBus()
        self.aggregator = MetricsAggregator(self.clock, limiter_use=self._limiter_use)
        self.bus.add("metrics", self.aggregator)
        self.bus.add("logging", LoggingSink())
        # Each plugin sink on its own, so one that raises neither stops the others nor the call.
        for impl in self.host.hook.patchwire_record.get_hookimpls():
            self.bus.add(f"plugin:{impl.plugin_name}", impl.function)
        self._dead_letter = (
            DeadLetterFile(self.config.dead_letter) if self.config.dead_letter else None
        )
        self.secrets = SecretResolver(
            self.registries.secret_sources, self.clock, self.redactor, on_reread=self._secret_reread
        )
        self.prices = PriceTable()
        for ctype, cls in self.registries.connectors.items():
            self.prices.extend(
                {(ctype, model): price for model, price in cls.prices().items()},
                origin=f"plugin {ctype}",
            )
        self.prices.extend(self.config.prices, origin="configuration")
        for config_ in self.config.connectors.values():
            self.registries.connectors[config_.type].check_config(config_)
        # [backends.NAME] tables and every connector's choice of them, checked at load.
        self.backends = Backends(self.config, self.registries, self.clock, self.secrets)
        self._rng = random.Random(seed)
        self.outgoing = Outgoing(self.config, self.secrets)
        self._session: aiohttp.ClientSession | None = None
        self._runtimes: dict[str, ConnectorRuntime] = {}
        self._metrics_server: MetricsServer | None = None
        #: request transforms (patchwire.transforms); ``transforms.counts`` per connector
        self.transforms = Healer(
            self.host.hook.patchwire_transform_request, self.bus.emit, self.clock
        )
        self.pipeline = Pipeline(
            clock=self.clock,
            emit=self.bus.emit,
            classify=self._classify,
            escalate=self._escalate,
            escalate_categories=self._escalate_categories,
            session=self.session,
            prices=self.prices,
            redactor=self.redactor,
            transform=self.transforms,
        )

    # --- construction ----------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "<dict>", **kwargs: Any) -> Hub:
        host = kwargs.get("host") or default_host()
        kwargs["host"] = host
        regs = host.registries
        config = parse_config(
            data,
            source=source,
            connector_types=regs.connectors,
            secret_schemes=regs.secret_sources,
            auth_secrets=regs.auth_secrets,
        )
        return cls(config, **kwargs)

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: Any) -> Hub:
        host = kwargs.get("host") or default_host()
        kwargs["host"] = host
        regs = host.registries
        config = load_config(
            path,
            connector_types=regs.connectors,
            secret_schemes=regs.secret_sources,
            auth_secrets=regs.auth_secrets,
        )
        return cls(config, **kwargs)

    @classmethod
    def from_environment(cls, path: str | Path | None = None, **kwargs: Any) -> Hub:
        """``path``, else ``$PATCHWIRE_CONFIG``, else ``./patchwire.toml``, else defaults."""
        chosen = path or os.environ.get(CONFIG_ENV)
        if chosen:
            return cls.from_file(chosen, **kwargs)
        if Path("patchwire.toml").is_file():
            return cls.from_file("patchwire.toml", **kwargs)
        return cls(**kwargs)

    # --- lifecycle ---------------------------------------------------------------------------

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers={"User-Agent": USER_AGENT},
                timeout=aiohttp.ClientTimeout(total=None),
                trace_configs=self._request_hooks(),
                **self.outgoing.session_options(),  # proxy rule, watched default TLS
            )
        return self._session

    def _request_hooks(self) -> list[aiohttp.TraceConfig]:
        # Only when a plugin implements patchwire_request_headers: no cost per request otherwise.
        if not self.host.hook.patchwire_request_headers.get_hookimpls():
            return []
        config = aiohttp.TraceConfig()
        config.on_request_start.append(self._add_request_headers)
        return [config]

    async def _add_request_headers(
        self,
        session: aiohttp.ClientSession,
        context: Any,
        params: aiohttp.TraceRequestStartParams,
    ) -> None:
        try:
            answers = self.host.hook.patchwire_request_headers(url=str(params.url))
            added = {
                str(name): str(value)
                for answer in answers
                if answer
                for name, value in answer.items()
                if name not in params.headers
            }
        except Exception:
            failures = self.bus.sink_failures
            failures["request_headers"] = failures.get("request_headers", 0) + 1
            return
        params.headers.update(added)

    async def __aenter__(self) -> Hub:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._metrics_server is not None:
            await self._metrics_server.aclose()
            self._metrics_server = None
        runtimes, self._runtimes = list(self._runtimes.values()), {}
        for runtime in runtimes:
            await runtime.aclose()
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- connectors --------------------------------------------------------------------------

    def _connector_config(self, name: str) -> ConnectorConfig:
        config = self.config.connectors.get(name)
        if config is not None:
            return config
        if name in self.registries.connectors:
            # An installed type used without a table: every setting at its default.
            return parse_config(
                {"connectors": {name: {}}},
                source=self.config.source,
                connector_types=self.registries.connectors,
                secret_schemes=self.registries.secret_sources,
                auth_secrets=self.registries.auth_secrets,
            ).connectors[name]
        configured = sorted(self.config.connectors)
        installed = sorted(self.registries.connectors)
        close = difflib.get_close_matches(name, configured + installed, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise ConfigError(
            f"no connector named '{name}'.{hint} Configured connectors: {', '.join(configured) or 'none'};"
            f" installed connector types: {', '.join(installed) or 'none'}; routes:"
            f" {', '.join(sorted(self.config.routes)) or 'none'}",
            source=self.config.source,
        )

    def runtime(self, name: str) -> ConnectorRuntime:
        runtime = self._runtimes.get(name)
        if runtime is None:
            runtime = self._build_runtime(self._connector_config(name))
            self._runtimes[name] = runtime
        return runtime

    def _build_runtime(self, config: ConnectorConfig) -> ConnectorRuntime:
        cls: type[Connector] = self.registries.connectors[config.type]
        connector = cls(
            ConnectorContext(
                config.name,
                config,
                self.clock,
                self.session,
                self.secrets,
                self.bus.emit,
                proxies=self.outgoing.proxies,
            )
        )
        auth = self._build_auth(config, cls)
        ssl_context = self._build_tls(config)
        self.outgoing.add_connector(config, ssl_context, connector)
        cache = None
        if config.cache.ttl > 0:
            cache = ResponseCache(self.backends.cache(config), ttl=config.cache.ttl)
        limiter_backend = None
        if not config.limits.empty:
            limiter_backend = self.backends.limiter(config)
        return ConnectorRuntime(
            config,
            connector,
            auth,
            ssl_context,
            self.clock,
            self.bus.emit,
            cache,
            limiter_backend,
            random.Random(self._rng.random()),
        )

    def _auth_context(self, config: ConnectorConfig, table: str) -> AuthContext:
        return AuthContext(
            connector=config.name,
            clock=self.clock,
            secrets=self.secrets,
            session=self.session,
            emit=self.bus.emit,
            source=config.where.source,
            table=table,
        )

    def _build_auth(self, config: ConnectorConfig, cls: type[Connector]) -> AuthScheme:
        schemes = self.registries.auth_schemes
        if config.auth is not None:
            settings = dict(config.auth)
            scheme = str(settings["scheme"])
            table = f"{config.where.table}.auth"
        else:
            reference = config.api_key or cls.default_api_key
            if reference is None:
                return NoAuth()
            scheme = cls.default_auth_scheme
            settings = {
                **cls.default_auth_settings,
                "scheme": scheme,
                _CREDENTIAL_KEY.get(scheme, "key"): reference,
            }
            table = config.where.table
        factory = schemes.get(scheme)
        if factory is None:
            raise ConfigError(
                f"unknown auth scheme '{scheme}'; installed schemes: {', '.join(sorted(schemes))}",
                source=config.where.source,
                table=table,
                key="scheme",
            )
        return factory(self._auth_context(config, table), settings)

    def _build_tls(self, config: ConnectorConfig) -> Any:
        if config.tls is None:
            return None
        from patchwire.auth.tls import tls_context

        return tls_context(self._auth_context(config, f"{config.where.table}.tls"), config.tls)

    # --- the application's interface ------------------------------------------------------

    def _target(self, spec: str) -> Target:
        connector, _, model = spec.partition(":")
        runtime = self.runtime(connector)
        if not model:
            raise ConfigError(
                f"'{spec}' names no model; write \"{connector}:MODEL\" or use a route name"
                f" ({', '.join(sorted(self.config.routes)) or 'none configured'})",
                source=self.config.source,
            )
        caps = runtime.connector.capabilities
        if not caps & {Capability.COMPLETE, Capability.STREAM, Capability.EMBED}:
            raise ConfigError(
                f"connector '{connector}' (type '{runtime.config.type}') is a tool, not a model;"
                f" use hub.tool('{connector}')",
                source=self.config.source,
            )
        return Target(runtime, model)

    def model(self, name: str) -> Model:
        """A model: ``"connector:model"`` or a route name from ``[routes]``."""
        route = self.config.routes.get(name)
        if route is not None:
            targets = [self._target(t) for t in route.targets]
            priority = [self._target(t) for t in route.priority_targets]
            return Model(
                name,
                self.pipeline,
                targets,
                priority,
                route.priority_threshold,
                self._usage,
                transforms=route.transforms,
            )
        if ":" not in name:
            routes = sorted(self.config.routes)
            close = difflib.get_close_matches(name, routes, n=1)
            hint = f" Did you mean route '{close[0]}'?" if close else ""
            raise ConfigError(
                f"'{name}' is neither \"connector:model\" nor a configured route.{hint}"
                f" Routes: {', '.join(routes) or 'none'}; connectors:"
                f" {', '.join(sorted(self.config.connectors)) or 'none'}",
                source=self.config.source,
            )
        return Model(name, self.pipeline, [self._target(name)], usage=self._usage)

    def tool(self, name: str) -> Tool:
        """A configured tool connector (web, cli, mcp, or a plugin's own)."""
        runtime = self.runtime(name)
        if Capability.TOOL not in runtime.connector.capabilities:
            raise ConfigError(
                f"connector '{name}' (type '{runtime.config.type}') is not a tool; use hub.model('{name}:MODEL')",
                source=self.config.source,
            )
        return Tool(name, self.pipeline, Target(runtime, None))

    # --- measurement ----------------------------------------------------------------------

    def metrics(self, *, window: float | None = None) -> MetricsSnapshot:
        """Running totals, or the last ``window`` seconds (from the aggregator's resolution up
        to its longest window; anything else is an ``InvalidArgument`` stating the bounds)."""
        from patchwire.arguments import check_window

        window = check_window(window, self.aggregator.resolution, self.aggregator.windows[-1])
        snapshot = self.aggregator.snapshot(window=window)
        return snapshot.with_sink_failures(dict(self.bus.sink_failures))

    def _limiter_use(self, connector: str) -> float | None:
        runtime = self._runtimes.get(connector)
        return runtime.limiter_used_pct() if runtime is not None else None

    def _usage(self, targets: Any) -> ConnectorMetrics:
        if len(targets) == 1:
            return self.aggregator.snapshot().for_model(targets[0].runtime.name, targets[0].model)
        parts = [self.aggregator.snapshot(t.runtime.name, t.model) for t in targets]
        return MetricsSnapshot.combine(parts, connector="+".join(t.label for t in targets))

    async def serve_metrics(self, port: int = 9464, host: str = "127.0.0.1") -> MetricsServer:
        """Serve ``hub.metrics()`` over local HTTP for ``patchwire stats`` (``/metrics.json``,
        ``/metrics.txt``) and, at ``/metrics``, the plugins' exposition (e.g. Prometheus)."""
        from patchwire.metrics_server import serve_metrics

        if self._metrics_server is None:
            self._metrics_server = await serve_metrics(
                self.metrics,
                host=host,
                port=port,
                formats=self.registries.metrics_formats,
            )
        return self._metrics_server

    # --- hook plumbing ------------------------------------------------------------------

    def _classify(self, connector: Connector, error: BaseException) -> Classification:
        if not isinstance(error, Exception) or type(error).__module__.startswith(
            "patchwire.errors"
        ):
            return classify_exception(error)
        response = getattr(error, "response", None)
        demanded = self.outgoing.classify(error, self._runtimes.get(connector.name))
        if demanded is not None:  # before the plugins: they would call a dropped link transient
            return demanded
        try:
            answer = self.host.hook.patchwire_classify_error(
                connector=connector, error=error, response=response
            )
        except Exception:
            # A classifier bug must not lose the call: fall back to core's answer and count it.
            self.bus.sink_failures["classify"] = self.bus.sink_failures.get("classify", 0) + 1
            answer = None
        return answer if isinstance(answer, Classification) else classify_exception(error)

    def _escalate_categories(self, runtime: ConnectorRuntime) -> frozenset[Category]:
        return self.config.escalate | runtime.config.escalate

    def _escalate(self, failure: Failure) -> None:
        try:
            self.host.hook.patchwire_escalate(failure=failure)
        finally:
            if self._dead_letter is not None:
                self._dead_letter(failure)

    def _secret_reread(self, reference: str) -> None:
        self.bus.emit(
            Event(
                EventKind.SECRET_REREAD,
                "hub",
                time=self.clock.now(),
                data={"scheme": reference.split(":", 1)[0], "reference": reference},
            )
        )

    def __repr__(self) -> str:
        return (
            f"<Hub connectors={sorted(self.config.connectors)} routes={sorted(self.config.routes)}>"
        )
