"""The ``patchwire`` entry point: every call's events become OpenTelemetry spans and metrics.

Like every OpenTelemetry instrumentation, installing it turns it on, and it uses the
application's global tracer and meter providers (without an SDK configured they are the
API's no-op ones, and recording costs next to nothing). Outgoing HTTP requests carry the
W3C trace context (``traceparent``) of their call. OpenTelemetry is imported at the first
event, so ``import patchwire`` stays fast.

Configured by the hub's ``[exporters.otel]`` table::

    [exporters.otel]
    enabled = true          # false: record nothing
    record_content = false  # true: prompts and replies on spans (never by default)
    principal_attribute = "none"  # "hash" or "id": patchwire.principal.id on cost counters

Environment variables override the table when set: ``PATCHWIRE_OTEL=off`` (or ``on``), and
the OpenTelemetry GenAI instrumentations' own
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`` (or ``false``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from patchwire.hookspecs import hookimpl

if TYPE_CHECKING:
    from patchwire.config_table import Table
    from patchwire.events import Event

    from patchwire_otel.recorder import CallRecorder

__all__ = ["CONTENT_ENV", "EXPORTER", "SWITCH_ENV", "OtelPlugin", "plugin"]

EXPORTER = "otel"
"""The name of this exporter's configuration table: ``[exporters.otel]``."""
SWITCH_ENV = "PATCHWIRE_OTEL"
CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
_OFF = frozenset({"0", "off", "false", "no"})
_ON = frozenset({"1", "on", "true", "yes"})


def _environment(name: str) -> bool | None:
    """A switch from the environment: True, False, or None when unset or not a switch."""
    value = os.environ.get(name, "").strip().lower()
    return True if value in _ON else False if value in _OFF else None


class OtelPlugin:
    PATCHWIRE_CONTRACT = "1.0"

    def __init__(self) -> None:
        self._recorder: CallRecorder | None = None
        self._enabled: bool | None = None
        self._configured_enabled = True
        self._configured_content = False
        self._stop_content: Callable[[], None] | None = None
        self._content_followed = False
        self._principal_attribute = "none"
        self._providers: _Providers | None = None
        #: the providers while the plugin is enabled, its content observer settled and no
        #: provider seen recording: both hooks' usual answer is read from it first (a
        #: global still unset, None, is the API's no-op one); None: the long way
        self._idle: _Providers | None = None

    @property
    def enabled(self) -> bool:
        if self._enabled is None:
            override = _environment(SWITCH_ENV)
            self._enabled = self._configured_enabled if override is None else override
        return self._enabled

    @property
    def record_content(self) -> bool:
        """Prompts and replies on spans: only when the application asked for it."""
        override = _environment(CONTENT_ENV)
        wanted = self._configured_content if override is None else override
        return self.enabled and wanted

    @hookimpl
    def patchwire_configure_exporter(self, name: str, table: Table) -> bool | None:
        if name != EXPORTER:
            return None
        table.check_keys(["enabled", "record_content", "principal_attribute"])
        from patchwire.metrics.cap import PRINCIPAL_MODES

        mode = table.string("principal_attribute", "none") or "none"
        if mode not in PRINCIPAL_MODES:
            raise table.error(
                "principal_attribute",
                "expected 'none' (cost by declared tag only), 'hash' (a SHA-256 pseudonym of"
                " the principal's id) or 'id' (the id as given)",
            )
        self._principal_attribute = mode
        if self._recorder is not None:
            self._recorder.cost.principal_attribute = mode
        self._configured_enabled = table.boolean("enabled", True)
        self._configured_content = table.boolean("record_content", False)
        self._enabled = None  # read again, the environment still first
        self._idle = None
        self._content_followed = True
        self._follow_content()
        return True

    def _follow_content(self) -> None:
        """Register the recorder as a content observer exactly while content is wanted."""
        from patchwire.content import observe_content

        if self.record_content and self._stop_content is None:
            self._stop_content = observe_content(self._get_recorder())
        elif not self.record_content and self._stop_content is not None:
            self._stop_content()
            self._stop_content = None

    def _get_recorder(self) -> CallRecorder:
        recorder = self._recorder
        if recorder is None:
            from patchwire_otel.recorder import CallRecorder

            recorder = self._recorder = CallRecorder()
            recorder.cost.principal_attribute = self._principal_attribute
        return recorder

    # Both hooks run on every call (the quiet one twice): their usual answer, enabled with
    # no SDK (neither global provider set, so the API hands out no-op spans and instruments
    # and writes no trace context from an empty one), is read from _idle in a few steps
    # (issue 19); anything else goes the long way, which settles _idle again.
    @hookimpl
    def patchwire_record(self, event: Event) -> None:
        if not self.patchwire_record_quiet():
            self._get_recorder()(event)

    @hookimpl
    def patchwire_record_quiet(self) -> bool:
        """Nothing to record (disabled, or no provider records): the hub may skip building a
        call's start and success events for this sink."""
        idle = self._idle
        if (
            idle is not None
            and idle.trace_state._TRACER_PROVIDER is None
            and idle.meter_state._METER_PROVIDER is None
        ):
            return True
        return self._quiet()

    def _quiet(self) -> bool:
        if not self._content_followed:
            # Without an [exporters.otel] table the environment alone may ask for content.
            self._content_followed = True
            self._follow_content()
        if not self.enabled:
            return True
        providers = self._providers or self._get_providers()
        quiet = not providers.records()
        # Settled and enabled: while no provider is seen recording, the fast answer holds.
        self._idle = providers if quiet else None
        return quiet

    @hookimpl
    def patchwire_request_headers(self, url: str) -> Mapping[str, str] | None:
        """The W3C trace context of the call the request belongs to."""
        idle = self._idle
        if (
            idle is not None
            and idle.trace_state._TRACER_PROVIDER is None
            and not idle.current_context()
        ):
            return None
        if not self.enabled or (self._providers or self._get_providers()).nothing_to_propagate():
            return None
        return self._get_recorder().request_headers()

    def _get_providers(self) -> _Providers:
        providers = self._providers
        if providers is None:
            providers = self._providers = _Providers()
        return providers


class _Providers:
    """Whether the application set a tracer (meter) provider that records.

    Without one every span and instrument is a no-op, and recording them cost a call
    ~100k instructions for nothing. OpenTelemetry lets a process set each global provider
    once, so once one is seen it stays; until then every question looks again, so an SDK
    configured after the first call is followed from the next event on.

    The look reads OpenTelemetry's module globals where they exist, as attributes of
    their modules (a dictionary look-up; the public getters test ``os.environ`` on every
    call, 0.7 µs each, three hooks a call, and even a ``partial(getattr, ...)`` costs
    a call). A provider the environment names (``OTEL_PYTHON_*_PROVIDER``) is loaded
    once, here, as the getters would load it; an OpenTelemetry without those globals
    gets the getters, read through a :class:`_Getter` that answers like the module.
    """

    def __init__(self) -> None:
        from opentelemetry import context, metrics, trace
        from opentelemetry.metrics import _internal as metrics_state
        from opentelemetry.metrics._internal import _ProxyMeterProvider

        trace.get_tracer_provider()
        metrics.get_meter_provider()
        #: ``._TRACER_PROVIDER`` / ``._METER_PROVIDER``: the provider set, or None
        self.trace_state: Any = (
            trace
            if hasattr(trace, "_TRACER_PROVIDER")
            else _Getter("_TRACER_PROVIDER", trace.get_tracer_provider)
        )
        self.meter_state: Any = (
            metrics_state
            if hasattr(metrics_state, "_METER_PROVIDER")
            else _Getter("_METER_PROVIDER", metrics.get_meter_provider)
        )
        self.current_context = _context_getter(context)
        # Not set yet (the globals), the API's proxies, and its explicit no-op providers.
        self.quiet: tuple[type, ...] = (
            type(None),
            trace.ProxyTracerProvider,
            trace.NoOpTracerProvider,
            _ProxyMeterProvider,
            metrics.NoOpMeterProvider,
        )
        self.tracing = False
        self.metering = False

    def records(self) -> bool:
        """A span or an instrument records."""
        if not self.tracing:
            self.tracing = not isinstance(self.trace_state._TRACER_PROVIDER, self.quiet)
        if not self.metering:
            self.metering = not isinstance(self.meter_state._METER_PROVIDER, self.quiet)
        return self.tracing or self.metering

    def nothing_to_propagate(self) -> bool:
        """No span records and the application's context is empty (no remote parent, no
        baggage): every propagator would write nothing."""
        if not self.tracing:
            self.tracing = not isinstance(self.trace_state._TRACER_PROVIDER, self.quiet)
        return not self.tracing and not self.current_context()


def _context_getter(context: Any) -> Callable[[], object]:
    """The application's current context, read as ``context.get_current()`` reads it.

    With the API's own runtime context (a ContextVar, the default), the variable's ``get``
    itself: ``get_current`` reached it through two Python calls, on every request
    (issue 19). Any other runtime context is asked through ``get_current``.
    """
    from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext

    runtime = getattr(context, "_RUNTIME_CONTEXT", None)
    variable = getattr(runtime, "_current_context", None)
    if type(runtime) is ContextVarsRuntimeContext and isinstance(variable, ContextVar):
        getter: Callable[[], object] = variable.get
        return getter
    current: Callable[[], object] = context.get_current
    return current


class _Getter:
    """A public getter read as the module global it stands in for: ``_Getter(name,
    getter).<name>`` is ``getter()``."""

    def __init__(self, name: str, getter: Callable[[], object]) -> None:
        self._name = name
        self._getter = getter

    def __getattr__(self, name: str) -> object:
        # vars(): self._name would come back here for an object not yet initialised
        if name == vars(self).get("_name"):
            return self._getter()
        raise AttributeError(name)


plugin = OtelPlugin()
