"""What a Gemini model's generation decides on the wire.

Gemini's request fields depend on the model, not only on the API version:

- ``thinkingLevel`` exists for Gemini 3 and later; "use with earlier models results in
  an error", so 2.5 models get ``thinkingBudget`` instead (WIRE-RICH §4).
- Models before 2.5 do not think: a ``thinkingConfig`` sent to them is an error.
- ``responseJsonSchema``/``parametersJsonSchema`` (JSON Schema) are read by 2.5 and later
  on ``v1beta``; older models and the ``v1`` surface get ``responseSchema``/``parameters``
  (the OpenAPI subset, :mod:`patchwire_gemini.openapi_schema`).
- Gemini 3 validates thought signatures strictly: every function call of the current
  turn must come back with the signature it was issued with.

A name that does not read as ``gemini-MAJOR[.MINOR]-...`` (a tuned model, an alias the
API resolves) is taken to be of the current generation.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = [
    "CURRENT",
    "generation",
    "json_schema_fields",
    "strict_signatures",
    "thinks",
    "uses_thinking_level",
]

#: the generation assumed for a model whose name does not say
CURRENT: Final = 3.0
_NAME: Final = re.compile(r"^(?:models/)?gemini-(\d+)(?:\.(\d+))?(?:-|$)")


def generation(model: str) -> float:
    """``gemini-2.5-flash`` is 2.5, ``gemini-3-pro-preview`` 3.0; an unreadable name is CURRENT."""
    match = _NAME.match(model)
    if match is None:
        return CURRENT
    return float(f"{match.group(1)}.{match.group(2) or 0}")


def thinks(model: str) -> bool:
    """Whether the model takes a ``thinkingConfig`` (2.5 and later)."""
    return generation(model) >= 2.5


def uses_thinking_level(model: str) -> bool:
    """Whether reasoning is asked with ``thinkingLevel`` (3 and later) rather than a budget."""
    return generation(model) >= 3.0


def strict_signatures(model: str) -> bool:
    """Whether the API refuses a current-turn function call without its thought signature."""
    return generation(model) >= 3.0


def json_schema_fields(model: str, api_version: str | None) -> bool:
    """Whether schemas go as JSON Schema (``*JsonSchema`` fields) rather than the OpenAPI subset."""
    return api_version != "v1" and generation(model) >= 2.5
