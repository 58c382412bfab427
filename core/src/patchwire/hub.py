"""The Hub: configuration in, models and tools out, everything shared owned in one place.

``async with hub:`` owns one aiohttp session, every connector it creates (lazily, on first
use), their auth schemes, batchers and servers, and closes all of them on exit.
"""

from __future__ import annotations

import difflib
import os
import random
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import aiohttp

from patchwire.auth.base import AuthContext, AuthScheme, NoAuth
from patchwire.auth.scopes import scope_warnings
from patchwire.auth.tls import current_context
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
from patchwire.principals.gate import PrincipalGate
from patchwire.principals.principal import Principal, acting_for
from patchwire.redact import Redactor, install_log_redaction
from patchwire.request_headers import request_headers
from patchwire.runtime import ConnectorRuntime
from patchwire.secrets import SecretResolver
from patchwire.transforms.driver import Healer

if TYPE_CHECKING:
    from patchwire.auth.pkce import Authorizations, AuthorizationStart
    from patchwire.auth.tokenstore import StoredToken, TokenStore
    from patchwire.metrics_server import MetricsServer
    from patchwire.principals.ledger import PrincipalUsage

__all__ = ["Hub"]

CONFIG_ENV = "PATCHWIRE_CONFIG"
USER_AGENT = "patchwire/0.1 (+https://pypi.org/project/patchwire/)"
_CREDENTIAL_KEY = {"bearer": "token", "api_key": "key"}


class Hub:
    """The application's entry point. ``Hub()`` uses defaults; see ``from_file`` and ``from_dict``.

    ``seed`` fixes the retry jitter's draws; without one they come from the ``random`` module.
    """

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
        #: wall seconds for windows and expiry shared across processes (budgets, tokens);
        #: an injected clock stands in for it, so tests drive both
        self.wall = time.time if clock is None else self.clock.now
        self.registries = self.host.registries
        self.config = config or HubConfig()
        self.redactor = Redactor()
        install_log_redaction()
        self.bus = EventBus()
        self.aggregator = MetricsAggregator(
            self.clock,
            limiter_use=self._limiter_use,
            limiter_queue=self._limiter_queue,
            max_principals=self.config.principals.metrics_max_principals,
            max_tag_values=self.config.principals.metrics_max_tag_values,
        )
        self.bus.add("metrics", self.aggregator)
        self.bus.add("logging", LoggingSink())
        # Each plugin sink on its own, so one that raises neither stops the others nor the call.
        hooks = self.host.hook
        quiet = {i.plugin_name: i.function for i in hooks.patchwire_record_quiet.get_hookimpls()}
        for impl in hooks.patchwire_record.get_hookimpls():
            name = impl.plugin_name
            self.bus.add(f"plugin:{name}", impl.function, quiet=quiet.get(name))
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
        self._configure_exporters()
        # Retry jitter's generator. Without a seed it is drawn from the random module, so a
        # program (or a test run) that seeds `random` gets the same retry schedules every run.
        self._rng = random.Random(random.getrandbits(64) if seed is None else seed)
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
        self._token_store: TokenStore | None = None
        self._authorizations: dict[str, Authorizations] = {}
        self.principals = PrincipalGate(
            self.config.principals, self._principal_auth, self._budgets()
        )
        self.pipeline.principals = self.principals
        #: load-time warnings, e.g. scopes broader than any operation declares
        self.config_warnings = scope_warnings(self.config.connectors)

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
            options = self.outgoing.session_options()  # proxy rule, watched default TLS
            # Only when a plugin implements patchwire_request_headers: no cost per request otherwise.
            if self.host.hook.patchwire_request_headers.get_hookimpls():
                options["request_class"] = self._with_request_headers(options["request_class"])
            self._session = aiohttp.ClientSession(
                headers={"User-Agent": USER_AGENT},
                timeout=aiohttp.ClientTimeout(total=None),
                **options,
            )
        return self._session

    def _with_request_headers(
        self, base: type[aiohttp.ClientRequest]
    ) -> type[aiohttp.ClientRequest]:
        """``base``, adding what the patchwire_request_headers plugins return to each request.

        Asked while the request is built, in the calling task before anything is sent,
        rather than by an aiohttp TraceConfig: a trace makes aiohttp build a trace context
        and send seven signals, each with its own parameter object, on every request,
        whatever the plugins return (issue 19). The step is aiohttp's ``update_headers``,
        not the constructor: overriding the constructor repacked its twenty-odd keyword
        arguments on every request. By then ``self.url`` is the URL the request goes to,
        query parameters applied (less any ``user:password``, which aiohttp takes out of
        the URL before it builds the request), and ``self.headers`` the session's merged
        headers; a plugin's header never replaces one the call set.
        """
        answers_for = request_headers(self.host.hook.patchwire_request_headers, self.host.pm)
        hub = self
        # base's own step, called as a plain function: super() builds a proxy object on
        # every request to find the same method.
        update_headers = base.update_headers

        class HeadedRequest(base):  # type: ignore[valid-type,misc]
            def update_headers(self, headers: Any) -> None:
                update_headers(self, headers)
                try:
                    answers = answers_for(self.url)
                    if not answers:  # the usual answer (no recording tracer): nothing to add
                        return
                    sent = self.headers
                    added = {
                        str(name): str(value)
                        for answer in answers
                        if answer
                        for name, value in answer.items()
                        if name not in sent
                    }
                except Exception:
                    failures = hub.bus.sink_failures
                    failures["request_headers"] = failures.get("request_headers", 0) + 1
                else:
                    if added:
                        sent.update(added)

        return HeadedRequest

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
        await self.principals.aclose()
        store, self._token_store = self._token_store, None
        if store is not None:
            await store.aclose()
        if self.principals.budgets is not None:
            closing = getattr(self.principals.budgets.counters, "aclose", None)
            if closing is not None:
                await closing()
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
        self.outgoing.add_connector(config, current_context(ssl_context), connector)
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
            token_store=self.token_store(),
            wall=self.wall,
        )

    def _build_auth(
        self,
        config: ConnectorConfig,
        cls: type[Connector],
        overrides: Mapping[str, str] | None = None,
    ) -> AuthScheme:
        """The connector's scheme; ``overrides`` (a principal's credential references)
        replace its credential settings, ``api_key`` standing for the scheme's own key."""
        schemes = self.registries.auth_schemes
        overrides = dict(overrides or {})
        if config.auth is not None:
            settings = dict(config.auth)
            scheme = str(settings["scheme"])
            table = f"{config.where.table}.auth"
        else:
            reference = overrides.get("api_key") or config.api_key or cls.default_api_key
            if reference is None:
                return NoAuth()
            scheme = cls.default_auth_scheme
            settings = {**cls.default_auth_settings, "scheme": scheme}
            table = config.where.table
        if "api_key" in overrides or config.auth is None:
            key = _CREDENTIAL_KEY.get(scheme, "key")
            settings[key] = overrides.pop("api_key", None) or settings.get(key) or reference
        settings.update(overrides)
        factory = schemes.get(scheme)
        if factory is None:
            raise ConfigError(
                f"unknown auth scheme '{scheme}'; installed schemes: {', '.join(sorted(schemes))}",
                source=config.where.source,
                table=table,
                key="scheme",
            )
        return factory(self._auth_context(config, table), settings)

    def _principal_auth(
        self, runtime: ConnectorRuntime, credentials: Mapping[str, str]
    ) -> AuthScheme:
        cls: type[Connector] = self.registries.connectors[runtime.config.type]
        return self._build_auth(runtime.config, cls, credentials)

    def token_store(self) -> TokenStore:
        """Per-principal tokens: ``[principals] token_store`` ("memory", or a
        ``[backends.NAME]`` whose backend offers ``token_store(key)``, e.g. redis)."""
        if self._token_store is None:
            from patchwire.auth.tokenstore import MemoryTokenStore

            settings = self.config.principals
            if settings.token_store == "memory":
                self._token_store = MemoryTokenStore()
            else:
                self._token_store = self._shared_store("token_store", "token_store")
        return self._token_store

    def _shared_store(self, key: str, offer: str) -> Any:
        from patchwire.config_values import Where

        settings = self.config.principals
        where = Where(self.config.source, "principals")
        name = settings.token_store if key == "token_store" else settings.backend
        backend = self.backends.named_limiter(name, where, key)
        make = getattr(backend, offer, None)
        if make is None:
            raise where.error(
                key,
                f"backend '{name}' ({type(backend).__name__}) offers no {offer.replace('_', ' ')}",
            )
        if offer != "token_store":
            return make()
        if settings.token_key is None:
            raise where.error(
                "token_key",
                "a shared token store encrypts tokens at rest: set token_key to a reference"
                ' to a 32-byte key in base64 (e.g. "env:PATCHWIRE_TOKEN_KEY")',
            )
        key_text = self.secrets.resolve(settings.token_key, where="[principals] token_key")
        return make(key_text.reveal())

    def _budgets(self) -> Any:
        from patchwire.principals.budgets import Budgets, MemoryCounters

        settings = self.config.principals
        if not settings.budgets:
            return None
        if settings.backend == "memory":
            counters: Any = MemoryCounters(self.wall)
        else:
            counters = self._shared_store("backend", "budget_counters")
        return Budgets(settings.budgets, counters, self.wall)

    def _build_tls(self, config: ConnectorConfig) -> Any:
        if config.tls is None:
            return None
        from patchwire.auth.tls import client_tls

        return client_tls(self._auth_context(config, f"{config.where.table}.tls"), config.tls)

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

    # --- principals ------------------------------------------------------------------------

    def acting_for(self, principal: Principal) -> acting_for:
        """``async with hub.acting_for(principal):`` — calls inside are made for it."""
        return acting_for(principal)

    def usage(
        self, *, principal: Principal | str | None = None, tag: tuple[str, str] | None = None
    ) -> PrincipalUsage:
        """What a principal (or a declared tag's value, ``tag=("team", "search")``) used."""
        return self.principals.usage(principal, tag)

    def _authorizations_for(self, connector: str) -> Authorizations:
        from patchwire.auth.delegated import DelegatedOAuth2
        from patchwire.auth.pkce import Authorizations

        flows = self._authorizations.get(connector)
        if flows is None:
            scheme = self.runtime(connector).auth
            if not isinstance(scheme, DelegatedOAuth2):
                raise ConfigError(
                    f"connector '{connector}' does not act for users: give it an [auth] table"
                    ' with scheme = "oauth2_delegated"',
                    source=self.config.source,
                )
            flows = self._authorizations[connector] = Authorizations(scheme)
        return flows

    def begin_authorization(
        self,
        connector: str,
        principal: Principal | str,
        *,
        scopes: list[str] | None = None,
        redirect_uri: str | None = None,
    ) -> AuthorizationStart:
        """Start the authorization-code flow (PKCE) for ``principal``: send the user to
        ``.url``; the callback goes to :meth:`complete_authorization`."""
        pid = principal.id if isinstance(principal, Principal) else Principal(principal).id
        return self._authorizations_for(connector).begin(
            pid, scopes=scopes, redirect_uri=redirect_uri
        )

    async def complete_authorization(
        self,
        connector: str,
        principal: Principal | str,
        *,
        code: str,
        state: str,
        start: AuthorizationStart | None = None,
    ) -> StoredToken:
        """Exchange the callback's code (checking its state) and store the user's tokens."""
        pid = principal.id if isinstance(principal, Principal) else Principal(principal).id
        return await self._authorizations_for(connector).complete(
            pid, code=code, state=state, start=start
        )

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

    def _configure_exporters(self) -> None:
        """Hand each ``[exporters.NAME]`` table to the plugin that takes it."""
        hook = self.host.hook.patchwire_configure_exporter
        for name, table in self.config.exporters.items():
            if not hook(name=name, table=table):
                takers = ", ".join(sorted(impl.plugin_name for impl in hook.get_hookimpls()))
                raise table.error(
                    None,
                    f"no installed plugin takes [exporters.{name}]"
                    f" (plugins with exporters: {takers or 'none'}); install the exporter"
                    " (patchwire-prometheus, patchwire-otel) or remove the table",
                )

    def _limiter_queue(self, connector: str) -> int | None:
        runtime = self._runtimes.get(connector)
        return runtime.limiter_waiters() if runtime is not None else None

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
