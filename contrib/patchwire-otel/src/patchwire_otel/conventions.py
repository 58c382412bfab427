"""How patchwire's calls map onto the OpenTelemetry GenAI semantic conventions.

Attribute and metric names come from ``opentelemetry-semantic-conventions`` (its incubating
GenAI module, where the conventions live while their status is Development). Histogram
boundaries are the ones the conventions recommend.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.trace import SpanKind

__all__ = [
    "DURATION_BOUNDARIES",
    "TOKEN_BOUNDARIES",
    "Operation",
    "operation",
    "provider_name",
]

DURATION_BOUNDARIES = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip
"""Seconds, for ``gen_ai.client.operation.duration``."""

TOKEN_BOUNDARIES = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)  # fmt: skip
"""Tokens, for ``gen_ai.client.token.usage``."""

_OPS = gen_ai.GenAiOperationNameValues
_PROVIDERS = gen_ai.GenAiProviderNameValues

# A connector named after its provider reports the conventions' provider name; any other
# connector reports its own name (events name the connector, not its type).
_PROVIDER_NAMES: Mapping[str, str] = {
    "openai": _PROVIDERS.OPENAI.value,
    "anthropic": _PROVIDERS.ANTHROPIC.value,
    "gemini": _PROVIDERS.GCP_GEMINI.value,
}


@attrs.frozen
class Operation:
    """A patchwire operation as the conventions name it, and the span it gets."""

    name: str
    kind: SpanKind
    stream: bool = False
    tool: str | None = None

    def span_name(self, model: str | None, connector: str) -> str:
        if self.tool is not None:
            return f"{self.name} {self.tool}"
        return f"{self.name} {model or connector}"


def operation(patchwire_operation: str) -> Operation:
    """``complete``/``stream`` are chat, ``embed`` embeddings, ``tool:NAME`` execute_tool."""
    if patchwire_operation == "complete":
        return Operation(_OPS.CHAT.value, SpanKind.CLIENT)
    if patchwire_operation == "stream":
        return Operation(_OPS.CHAT.value, SpanKind.CLIENT, stream=True)
    if patchwire_operation == "embed":
        return Operation(_OPS.EMBEDDINGS.value, SpanKind.CLIENT)
    if patchwire_operation.startswith("tool:"):
        tool = patchwire_operation.removeprefix("tool:")
        return Operation(_OPS.EXECUTE_TOOL.value, SpanKind.INTERNAL, tool=tool)
    # list_tools and anything newer: patchwire's own name, as the conventions allow.
    return Operation(patchwire_operation, SpanKind.CLIENT)


def provider_name(connector: str) -> str:
    return _PROVIDER_NAMES.get(connector, connector)
