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


# The type-checking imports below give mypy the exports' types. Each is written
# ``import X as X``, the explicit re-export form: ``__all__`` is derived from _EXPORTS,
# which type checkers cannot read, and without it ``from patchwire import Hub`` fails
# under ``mypy --strict`` (no implicit re-export).

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
    "Media": "patchwire.parts",
    "image_size": "patchwire.imagesize",
    "MEDIA_TOKEN_ESTIMATE": "patchwire.connector",
    "ToolSpec": "patchwire.tools",
    "ToolArgumentsError": "patchwire.tools",
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
    from patchwire.auth import AccessToken as AccessToken
    from patchwire.auth import ApiKeyAuth as ApiKeyAuth
    from patchwire.auth import AuthContext as AuthContext
    from patchwire.auth import AuthFactory as AuthFactory
    from patchwire.auth import AuthScheme as AuthScheme
    from patchwire.auth import BearerAuth as BearerAuth
    from patchwire.auth import TokenCache as TokenCache
    from patchwire.backends import BackendTable as BackendTable
    from patchwire.classification import FALLBACK as FALLBACK
    from patchwire.classification import RETRYABLE as RETRYABLE
    from patchwire.classification import Classification as Classification
    from patchwire.classify import status_category as status_category
    from patchwire.config import ConnectorConfig as ConnectorConfig
    from patchwire.config_table import Table as Table
    from patchwire.config_values import shown as shown
    from patchwire.connector import MEDIA_TOKEN_ESTIMATE as MEDIA_TOKEN_ESTIMATE
    from patchwire.connector import Attempt as Attempt
    from patchwire.connector import Capability as Capability
    from patchwire.connector import Connector as Connector
    from patchwire.connector import ConnectorContext as ConnectorContext
    from patchwire.connector import Setting as Setting
    from patchwire.connector import ToolInfo as ToolInfo
    from patchwire.errorbody import ErrorBody as ErrorBody
    from patchwire.errorbody import parse_error_body as parse_error_body
    from patchwire.errors import AuthError as AuthError
    from patchwire.errors import Category as Category
    from patchwire.errors import ConfigError as ConfigError
    from patchwire.errors import DegradedError as DegradedError
    from patchwire.errors import IntegrationError as IntegrationError
    from patchwire.errors import InvalidRequestError as InvalidRequestError
    from patchwire.errors import PatchwireError as PatchwireError
    from patchwire.errors import QuotaExhaustedError as QuotaExhaustedError
    from patchwire.errors import RateLimitedError as RateLimitedError
    from patchwire.errors import TransientError as TransientError
    from patchwire.events import Event as Event
    from patchwire.events import EventKind as EventKind
    from patchwire.hookspecs import CONTRACT_VERSION as CONTRACT_VERSION
    from patchwire.hookspecs import hookimpl as hookimpl
    from patchwire.hookspecs import hookspec as hookspec
    from patchwire.http import HttpResponse as HttpResponse
    from patchwire.http import HttpStatusError as HttpStatusError
    from patchwire.http import open_stream as open_stream
    from patchwire.http import send as send
    from patchwire.imagesize import image_size as image_size
    from patchwire.limiter import RateLimitInfo as RateLimitInfo
    from patchwire.metrics import MetricsSnapshot as MetricsSnapshot
    from patchwire.output import OutputSpec as OutputSpec
    from patchwire.parts import Document as Document
    from patchwire.parts import Image as Image
    from patchwire.parts import Media as Media
    from patchwire.parts import Part as Part
    from patchwire.parts import Reasoning as Reasoning
    from patchwire.parts import Text as Text
    from patchwire.parts import ToolCall as ToolCall
    from patchwire.parts import ToolResultPart as ToolResultPart
    from patchwire.prices import ContextTier as ContextTier
    from patchwire.prices import Price as Price
    from patchwire.registry import AuthRegistrar as AuthRegistrar
    from patchwire.registry import BackendRegistrar as BackendRegistrar
    from patchwire.registry import CommandRegistrar as CommandRegistrar
    from patchwire.registry import ConnectorRegistrar as ConnectorRegistrar
    from patchwire.registry import MetricsFormatRegistrar as MetricsFormatRegistrar
    from patchwire.registry import SimulatorRegistrar as SimulatorRegistrar
    from patchwire.retry import parse_retry_after as parse_retry_after
    from patchwire.retry import parse_should_retry as parse_should_retry
    from patchwire.secrets import RotatingSource as RotatingSource
    from patchwire.secrets import SecretNotFound as SecretNotFound
    from patchwire.secrets import SecretSource as SecretSource
    from patchwire.secrets import split_reference as split_reference
    from patchwire.sse import ServerSentEvent as ServerSentEvent
    from patchwire.sse import as_one_chunk as as_one_chunk
    from patchwire.sse import iter_sse as iter_sse
    from patchwire.sse import read_unstreamed as read_unstreamed
    from patchwire.tools import ToolArgumentsError as ToolArgumentsError
    from patchwire.tools import ToolSpec as ToolSpec
    from patchwire.types import Completion as Completion
    from patchwire.types import CompletionRequest as CompletionRequest
    from patchwire.types import EmbeddingBatch as EmbeddingBatch
    from patchwire.types import EmbeddingRequest as EmbeddingRequest
    from patchwire.types import StreamChunk as StreamChunk
    from patchwire.types import ToolCallDelta as ToolCallDelta
    from patchwire.types import ToolRequest as ToolRequest
    from patchwire.types import ToolResult as ToolResult
    from patchwire.types import Usage as Usage


__getattr__, __dir__ = _lazy_exports(__name__, _EXPORTS, globals())
