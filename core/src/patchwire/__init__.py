"""patchwire: production-grade calls to AI model providers and tools.

The names below are the application API, stable under the contract version; they are
imported on first use, so ``import patchwire`` stays cheap. Plugins import from
:mod:`patchwire.plugin_api`; every module neither names is internal.
"""

# ruff: noqa: F401 -- __all__ is derived from _EXPORTS, which ruff cannot read, so the
# type-checking imports below (the exports' types for mypy) look unused to it.

from __future__ import annotations

import logging
from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# A library stays quiet until the application configures logging: without this, Python's
# last-resort handler would print patchwire's warnings to stderr.
logging.getLogger("patchwire").addHandler(logging.NullHandler())

_EXPORTS = {
    "Hub": "patchwire.hub",
    "Model": "patchwire.model",
    "Tool": "patchwire.model",
    "SyncHub": "patchwire.sync",
    "Message": "patchwire.types",
    "Completion": "patchwire.types",
    "Usage": "patchwire.types",
    "Embedding": "patchwire.types",
    "StreamChunk": "patchwire.types",
    "ToolResult": "patchwire.types",
    "CallOptions": "patchwire.types",
    "Secret": "patchwire.secrets",
    "PatchwireError": "patchwire.errors",
    "Category": "patchwire.errors",
    "ConfigError": "patchwire.errors",
    "TransientError": "patchwire.errors",
    "RateLimitedError": "patchwire.errors",
    "DegradedError": "patchwire.errors",
    "AuthError": "patchwire.errors",
    "InvalidRequestError": "patchwire.errors",
    "IntegrationError": "patchwire.errors",
    "CircuitOpenError": "patchwire.errors",
    "QuotaExhaustedError": "patchwire.errors",
    "hookimpl": "patchwire.hookspecs",
    # who a call is for (per-principal credentials, budgets, usage)
    "Principal": "patchwire.principals.principal",
    "acting_for": "patchwire.principals.principal",
    "PrincipalUsage": "patchwire.principals.ledger",
    # rich calls: content parts, tool specs, structured output
    "Text": "patchwire.parts",
    "Image": "patchwire.parts",
    "Document": "patchwire.parts",
    "ToolCall": "patchwire.parts",
    "ToolResultPart": "patchwire.parts",
    "Reasoning": "patchwire.parts",
    "ToolCallDelta": "patchwire.types",
    "ToolSpec": "patchwire.tools",
    "ToolArgumentsError": "patchwire.tools",
    "OutputSpec": "patchwire.output",
    "OutputValidationError": "patchwire.output",
    "Run": "patchwire.run",
    "RunEvent": "patchwire.run",
    "RunStep": "patchwire.run",
    "RunBudgetError": "patchwire.run",
    "RunDeadlineError": "patchwire.run",
    "BoundTool": "patchwire.run_tools",
    "Transformed": "patchwire.transforms",
}

# The list is kept once, in _EXPORTS; the names it maps are the application API (see
# docs/api.md), and patchwire.plugin_api is the plugin API's front door.
__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:
    from patchwire.errors import (
        AuthError,
        Category,
        CircuitOpenError,
        ConfigError,
        DegradedError,
        IntegrationError,
        InvalidRequestError,
        PatchwireError,
        QuotaExhaustedError,
        RateLimitedError,
        TransientError,
    )
    from patchwire.hookspecs import hookimpl
    from patchwire.hub import Hub
    from patchwire.model import Model, Tool
    from patchwire.output import OutputSpec, OutputValidationError
    from patchwire.parts import Document, Image, Reasoning, Text, ToolCall, ToolResultPart
    from patchwire.principals.ledger import PrincipalUsage
    from patchwire.principals.principal import Principal, acting_for
    from patchwire.run import Run, RunBudgetError, RunDeadlineError, RunEvent, RunStep
    from patchwire.run_tools import BoundTool
    from patchwire.secrets import Secret
    from patchwire.sync import SyncHub
    from patchwire.tools import ToolArgumentsError, ToolSpec
    from patchwire.transforms import Transformed
    from patchwire.types import (
        CallOptions,
        Completion,
        Embedding,
        Message,
        StreamChunk,
        ToolCallDelta,
        ToolResult,
        Usage,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'patchwire' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
