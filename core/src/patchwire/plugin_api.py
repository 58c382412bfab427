"""The plugin API: every name a connector, auth, backend or exporter plugin may import.

This module is the plugin API's front door. The names it lists are stable under the
contract version (:data:`CONTRACT_VERSION`, stated by a plugin as
``PATCHWIRE_CONTRACT = "1.0"``): within a major version they keep their meaning and only
gain optional arguments. The modules they live in keep exporting them too, so an import
such as ``from patchwire.http import send`` goes on working; new code should prefer
``from patchwire.plugin_api import send``.

Beside this module, two packages are plugin API as a whole: ``patchwire.testing`` (fake
connectors, the simulators' building blocks) and ``patchwire.testing.conformance`` (the
suite a connector runs in its own tests). Every other ``patchwire.*`` module not named by
``patchwire`` or this module is internal: it may change in any release.

Names are imported on first use, like ``patchwire``'s own, so importing this module from
a plugin's entry module costs nothing.
"""

# ruff: noqa: F401 -- __all__ is derived from _EXPORTS, which ruff cannot read, so the
# type-checking imports below (the exports' types for mypy) look unused to it.

from __future__ import annotations

from typing import TYPE_CHECKING

from patchwire import _lazy_exports

#: name -> the module that defines it (the one place the list is kept)
_EXPORTS = {
    # the contract
    "CONTRACT_VERSION": "patchwire.hookspecs",
    "hookimpl": "patchwire.hookspecs",
    "hookspec": "patchwire.hookspecs",
    # registrars the setup hooks receive
    "ConnectorRegistrar": "patchwire.registry",
    "AuthRegistrar": "patchwire.registry",
    "BackendRegistrar": "patchwire.registry",
    "CommandRegistrar": "patchwire.registry",
    "SimulatorRegistrar": "patchwire.registry",
    "MetricsFormatRegistrar": "patchwire.registry",
    # connectors
    "Connector": "patchwire.connector",
    "ConnectorContext": "patchwire.connector",
    "Attempt": "patchwire.connector",
    "Capability": "patchwire.connector",
    "Setting": "patchwire.connector",
    "ToolInfo": "patchwire.connector",
    "ConnectorConfig": "patchwire.config",
    "Table": "patchwire.config_table",
    "CompletionRequest": "patchwire.types",
    "EmbeddingRequest": "patchwire.types",
    "ToolRequest": "patchwire.types",
    # what a connector returns and raises
    "Completion": "patchwire.types",
    "StreamChunk": "patchwire.types",
    "Usage": "patchwire.types",
    "EmbeddingBatch": "patchwire.types",
    "ToolResult": "patchwire.types",
    "ToolCallDelta": "patchwire.types",
    "Part": "patchwire.parts",
    "Text": "patchwire.parts",
    "Image": "patchwire.parts",
    "Document": "patchwire.parts",
    "ToolCall": "patchwire.parts",
    "ToolResultPart": "patchwire.parts",
    "Reasoning": "patchwire.parts",
    "ToolSpec": "patchwire.tools",
    "OutputSpec": "patchwire.output",
    "Category": "patchwire.errors",
    "PatchwireError": "patchwire.errors",
    "TransientError": "patchwire.errors",
    "RateLimitedError": "patchwire.errors",
    "DegradedError": "patchwire.errors",
    "AuthError": "patchwire.errors",
    "InvalidRequestError": "patchwire.errors",
    "IntegrationError": "patchwire.errors",
    "QuotaExhaustedError": "patchwire.errors",
    "ConfigError": "patchwire.errors",
    # HTTP, SSE, error bodies, classification, rate-limit headers
    "HttpResponse": "patchwire.http",
    "HttpStatusError": "patchwire.http",
    "send": "patchwire.http",
    "open_stream": "patchwire.http",
    "ServerSentEvent": "patchwire.sse",
    "iter_sse": "patchwire.sse",
    "as_one_chunk": "patchwire.sse",
    "read_unstreamed": "patchwire.sse",
    "ErrorBody": "patchwire.errorbody",
    "parse_error_body": "patchwire.errorbody",
    "Classification": "patchwire.classification",
    "RETRYABLE": "patchwire.classification",
    "FALLBACK": "patchwire.classification",
    "status_category": "patchwire.classify",
    "parse_retry_after": "patchwire.retry",
    "parse_should_retry": "patchwire.retry",
    "RateLimitInfo": "patchwire.limiter",
    "Price": "patchwire.prices",
    "ContextTier": "patchwire.prices",
    "shown": "patchwire.config_values",
    # auth schemes and secret sources
    "AuthScheme": "patchwire.auth",
    "AuthContext": "patchwire.auth",
    "AuthFactory": "patchwire.auth",
    "ApiKeyAuth": "patchwire.auth",
    "BearerAuth": "patchwire.auth",
    "AccessToken": "patchwire.auth",
    "TokenCache": "patchwire.auth",
    "SecretSource": "patchwire.secrets",
    "RotatingSource": "patchwire.secrets",
    "SecretNotFound": "patchwire.secrets",
    "split_reference": "patchwire.secrets",
    # events and metrics, for exporters
    "Event": "patchwire.events",
    "EventKind": "patchwire.events",
    "MetricsSnapshot": "patchwire.metrics",
    # backends
    "BackendTable": "patchwire.backends",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from patchwire.auth import (
        AccessToken,
        ApiKeyAuth,
        AuthContext,
        AuthFactory,
        AuthScheme,
        BearerAuth,
        TokenCache,
    )
    from patchwire.backends import BackendTable
    from patchwire.classification import FALLBACK, RETRYABLE, Classification
    from patchwire.classify import status_category
    from patchwire.config import ConnectorConfig
    from patchwire.config_table import Table
    from patchwire.config_values import shown
    from patchwire.connector import (
        Attempt,
        Capability,
        Connector,
        ConnectorContext,
        Setting,
        ToolInfo,
    )
    from patchwire.errorbody import ErrorBody, parse_error_body
    from patchwire.errors import (
        AuthError,
        Category,
        ConfigError,
        DegradedError,
        IntegrationError,
        InvalidRequestError,
        PatchwireError,
        QuotaExhaustedError,
        RateLimitedError,
        TransientError,
    )
    from patchwire.events import Event, EventKind
    from patchwire.hookspecs import CONTRACT_VERSION, hookimpl, hookspec
    from patchwire.http import HttpResponse, HttpStatusError, open_stream, send
    from patchwire.limiter import RateLimitInfo
    from patchwire.metrics import MetricsSnapshot
    from patchwire.output import OutputSpec
    from patchwire.parts import Document, Image, Part, Reasoning, Text, ToolCall, ToolResultPart
    from patchwire.prices import ContextTier, Price
    from patchwire.registry import (
        AuthRegistrar,
        BackendRegistrar,
        CommandRegistrar,
        ConnectorRegistrar,
        MetricsFormatRegistrar,
        SimulatorRegistrar,
    )
    from patchwire.retry import parse_retry_after, parse_should_retry
    from patchwire.secrets import RotatingSource, SecretNotFound, SecretSource, split_reference
    from patchwire.sse import ServerSentEvent, as_one_chunk, iter_sse, read_unstreamed
    from patchwire.tools import ToolSpec
    from patchwire.types import (
        Completion,
        CompletionRequest,
        EmbeddingBatch,
        EmbeddingRequest,
        StreamChunk,
        ToolCallDelta,
        ToolRequest,
        ToolResult,
        Usage,
    )


__getattr__, __dir__ = _lazy_exports(__name__, _EXPORTS, globals())
