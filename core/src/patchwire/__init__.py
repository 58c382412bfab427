"""patchwire: production-grade calls to AI model providers and tools.

The names below are the application API, stable under the contract version; they are
imported on first use, so ``import patchwire`` stays cheap. Plugins import from
:mod:`patchwire.plugin_api`; every module neither names is internal.
"""


# The type-checking imports below give mypy the exports' types. Each is written
# ``import X as X``, the explicit re-export form: ``__all__`` is derived from _EXPORTS,
# which type checkers cannot read, and without it ``from patchwire import Hub`` fails
# under ``mypy --strict`` (no implicit re-export).

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
    from collections.abc import Callable, Mapping

    from patchwire.errors import AuthError as AuthError
    from patchwire.errors import Category as Category
    from patchwire.errors import CircuitOpenError as CircuitOpenError
    from patchwire.errors import ConfigError as ConfigError
    from patchwire.errors import DegradedError as DegradedError
    from patchwire.errors import IntegrationError as IntegrationError
    from patchwire.errors import InvalidRequestError as InvalidRequestError
    from patchwire.errors import PatchwireError as PatchwireError
    from patchwire.errors import QuotaExhaustedError as QuotaExhaustedError
    from patchwire.errors import RateLimitedError as RateLimitedError
    from patchwire.errors import TransientError as TransientError
    from patchwire.hookspecs import hookimpl as hookimpl
    from patchwire.hub import Hub as Hub
    from patchwire.model import Model as Model
    from patchwire.model import Tool as Tool
    from patchwire.output import OutputSpec as OutputSpec
    from patchwire.output import OutputValidationError as OutputValidationError
    from patchwire.parts import Document as Document
    from patchwire.parts import Image as Image
    from patchwire.parts import Reasoning as Reasoning
    from patchwire.parts import Text as Text
    from patchwire.parts import ToolCall as ToolCall
    from patchwire.parts import ToolResultPart as ToolResultPart
    from patchwire.principals.ledger import PrincipalUsage as PrincipalUsage
    from patchwire.principals.principal import Principal as Principal
    from patchwire.principals.principal import acting_for as acting_for
    from patchwire.run import Run as Run
    from patchwire.run import RunBudgetError as RunBudgetError
    from patchwire.run import RunDeadlineError as RunDeadlineError
    from patchwire.run import RunEvent as RunEvent
    from patchwire.run import RunStep as RunStep
    from patchwire.run_tools import BoundTool as BoundTool
    from patchwire.secrets import Secret as Secret
    from patchwire.sync import SyncHub as SyncHub
    from patchwire.tools import ToolArgumentsError as ToolArgumentsError
    from patchwire.tools import ToolSpec as ToolSpec
    from patchwire.transforms import Transformed as Transformed
    from patchwire.types import CallOptions as CallOptions
    from patchwire.types import Completion as Completion
    from patchwire.types import Embedding as Embedding
    from patchwire.types import Message as Message
    from patchwire.types import StreamChunk as StreamChunk
    from patchwire.types import ToolCallDelta as ToolCallDelta
    from patchwire.types import ToolResult as ToolResult
    from patchwire.types import Usage as Usage


def _lazy_exports(
    module: str, exports: Mapping[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The PEP 562 ``__getattr__`` and ``__dir__`` of ``module``, whose ``exports`` (name ->
    the module that defines it) are imported on first use and then kept in ``namespace``
    (the module's globals), so the next lookup is a plain global.

    ``patchwire`` and ``patchwire.plugin_api`` both use it; it lives here, not in a module
    of its own, so that ``import patchwire`` imports nothing more for it.
    """

    def __getattr__(name: str) -> Any:
        home = exports.get(name)
        if home is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        value = getattr(import_module(home), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *exports})

    return __getattr__, __dir__


__getattr__, __dir__ = _lazy_exports(__name__, _EXPORTS, globals())
