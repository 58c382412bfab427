"""The ``patchwire`` entry point: every call's events become OpenTelemetry spans and metrics.

Like every OpenTelemetry instrumentation, installing it turns it on, and it uses the
application's global tracer and meter providers (without an SDK configured they are the
API's no-op ones, and recording costs next to nothing). ``PATCHWIRE_OTEL=off`` turns it off.
Outgoing HTTP requests carry the W3C trace context (``traceparent``) of their call.
OpenTelemetry is imported at the first event, so ``import patchwire`` stays fast.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from patchwire.hookspecs import hookimpl

if TYPE_CHECKING:
    from patchwire.events import Event

    from patchwire_otel.recorder import CallRecorder

__all__ = ["SWITCH_ENV", "OtelPlugin", "plugin"]

SWITCH_ENV = "PATCHWIRE_OTEL"
_OFF = frozenset({"0", "off", "false", "no"})


class OtelPlugin:
    PATCHWIRE_CONTRACT = "1.0"

    def __init__(self) -> None:
        self._recorder: CallRecorder | None = None
        self._enabled: bool | None = None

    @property
    def enabled(self) -> bool:
        if self._enabled is None:
            self._enabled = os.environ.get(SWITCH_ENV, "on").strip().lower() not in _OFF
        return self._enabled

    def _get_recorder(self) -> CallRecorder:
        recorder = self._recorder
        if recorder is None:
            from patchwire_otel.recorder import CallRecorder

            recorder = self._recorder = CallRecorder()
        return recorder

    @hookimpl
    def patchwire_record(self, event: Event) -> None:
        if self.enabled:
            self._get_recorder()(event)

    @hookimpl
    def patchwire_request_headers(self, url: str) -> Mapping[str, str] | None:
        """The W3C trace context of the call the request belongs to."""
        return self._get_recorder().request_headers() if self.enabled else None


plugin = OtelPlugin()
