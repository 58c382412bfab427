"""The plugin contract: every hook a patchwire plugin may implement.

Hooks are synchronous and cheap. Setup hooks run once when the plugin manager builds its
registries; ``patchwire_classify_error`` and ``patchwire_record`` run per failure and per
event and must not block; ``patchwire_escalate`` runs once per final failure that needs a
person or a dead-letter store. Async work lives in the objects the setup hooks register.

Signatures only ever gain arguments (pluggy lets an implementation take a subset), and an
implementation must not give its arguments default values (pluggy never passes them).
A plugin states the contract it was built against on its plugin object as
``PATCHWIRE_CONTRACT = "1.0"`` (the :data:`CONTRACT_VERSION` it was built with); a plugin
whose major version differs from core's is refused at load.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from patchwire.classification import Classification
    from patchwire.config_table import Table
    from patchwire.connector import Connector
    from patchwire.escalation import Failure
    from patchwire.events import Event
    from patchwire.registry import (
        AuthRegistrar,
        BackendRegistrar,
        CommandRegistrar,
        ConnectorRegistrar,
        MetricsFormatRegistrar,
        SimulatorRegistrar,
    )
    from patchwire.transforms import RequestFailure, Transformed
    from patchwire.types import CompletionRequest

PROJECT = "patchwire"
CONTRACT_VERSION = "1.0"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def patchwire_register_connectors(register: ConnectorRegistrar) -> None:
    """Add connector types: ``register(type_name, connector_class)``.

    A connector class subclasses :class:`patchwire.connector.Connector` and states its
    version, capabilities, settings and the provider API versions it speaks.
    """


@hookspec
def patchwire_register_auth(register: AuthRegistrar) -> None:
    """Add auth schemes and secret sources.

    ``register.scheme(name, factory, secrets=[...])`` adds a scheme (``factory(ctx,
    settings)`` returns an :class:`patchwire.auth.AuthScheme`); ``secrets`` names the
    settings that hold a credential, which core then accepts only as references and refuses
    at load as literals. ``register.source(source)`` adds a secret source for references
    of ``source.scheme`` (``env:``, ``file:``, ``keyring:``...).
    """


@hookspec(firstresult=True)
def patchwire_classify_error(
    connector: Connector, error: BaseException, response: Any
) -> Classification | None:
    """Say what a failed attempt means, or return None to let the next plugin decide.

    Called per failure, first result wins; core's default answers last from the status or
    exception type alone. ``response`` is the :class:`patchwire.http.HttpResponse` when
    the failure was an HTTP status, else None. Must not block.
    """


@hookspec
def patchwire_record(event: Event) -> None:
    """Receive every call-lifecycle event (fan-out to every sink). Must not block or raise;
    a sink that raises is counted and never fails the call."""


@hookspec
def patchwire_record_quiet() -> bool | None:
    """Optional, beside ``patchwire_record``: True while this plugin's sink would do nothing
    with a call's start and success events (say, a tracer with no recording provider).

    Asked on every call, before those two events are built, straight from the hub's bus
    (not through pluggy, so it must be cheap and must not raise); while every sink is quiet
    or built in, the two are never built. The sink still receives every other event, and
    every event again as soon as this answers False (or None).
    """


@hookspec
def patchwire_escalate(failure: Failure) -> None:
    """A call failed finally in a category that needs a person or a dead-letter store
    (auth, invalid_request, integration, and any category the configuration lists)."""


@hookspec
def patchwire_register_backends(register: BackendRegistrar) -> None:
    """Add limiter and cache storage backend types: ``register.limiter(name, factory)`` and
    ``register.cache(name, factory)`` (``memory`` in core, ``redis`` in contrib).

    The hub calls a factory once per connector that selects it, with the keywords it
    names among ``table`` (its ``[backends.NAME]`` table, a
    :class:`patchwire.backends.BackendTable`), ``clock``, ``connector`` and, for caches,
    ``max_entries`` and ``default_ttl`` (see :func:`patchwire.backends.call_factory`);
    the keywords only ever grow. A ``settings`` attribute on the factory (name to
    :class:`patchwire.connector.Setting`) has core check the table at load.
    """


@hookspec
def patchwire_register_commands(cli: CommandRegistrar) -> None:
    """Add subcommands to the ``patchwire`` command line: ``cli.add(name, help, configure, run)``."""


@hookspec
def patchwire_register_simulators(register: SimulatorRegistrar) -> None:
    """Add a simulated server for a wire format: ``register(name, factory)``, used by
    ``patchwire simulate``, the demo and the conformance suite."""


@hookspec(firstresult=True)
def patchwire_configure_exporter(name: str, table: Table) -> bool | None:
    """Take the configuration's ``[exporters.NAME]`` table when ``name`` is this plugin's
    exporter (patchwire-prometheus: ``prometheus``; patchwire-otel: ``otel``): check its keys
    with the table's typed reads, which raise a ``ConfigError`` naming the table and key,
    apply them, and return True. Return None for a name that is not yours.

    Called when a hub is built, for each table present; exporters are process-wide (like
    OpenTelemetry's global providers), so the last hub built sets them. A table no plugin
    takes fails the load, naming the installed exporters."""


@hookspec
def patchwire_register_metrics_formats(register: MetricsFormatRegistrar) -> None:
    """Add a metrics exposition served by ``hub.serve_metrics()``:
    ``register(path, content_type, render)``, where ``render(snapshot)`` returns the body for
    a :class:`patchwire.metrics.MetricsSnapshot` taken at request time (it must not block).

    Core always serves ``/metrics.txt`` (the table) and ``/metrics.json``; ``/metrics`` is the
    table unless a plugin registers it (patchwire-prometheus registers the Prometheus text
    format there)."""


@hookspec
def patchwire_request_headers(url: str) -> Mapping[str, str] | None:
    """Headers to add to an outgoing HTTP request on the hub's session, or None.

    Called per request, in the calling task's context (so a tracing plugin can read the
    current span), before the request is sent; must not block. ``url`` is where it goes.
    Core adds a returned header only when the request does not carry that name already,
    so a plugin never replaces a credential or a connector's own header; a plugin that
    raises is counted in ``hub.bus.sink_failures["request_headers"]`` and the request goes
    on without its headers. patchwire-otel adds the W3C trace context (``traceparent``)."""


@hookspec(firstresult=True)
def patchwire_transform_request(
    connector: Connector, request: CompletionRequest, failure: RequestFailure
) -> Transformed | None:
    """Change a failed completion request so it can be tried once more, or return None.

    Called once per failure of a completion call (after its retries and fallbacks), first
    result wins; core's own transforms (context-overflow ``fallback``/``trim``, output
    ``repair``) answer last. ``failure`` holds the classified error, the target that
    failed and the call's route with each target's context window, the transforms that
    already ran for this call (``failure.ran``: do not repeat yours beyond its bound) and
    the connector's transform settings. The returned :class:`patchwire.transforms.Transformed`
    is sent once, within the call's deadline, to ``target`` (a route target's label) or to
    the target that failed. Must not block.
    """
