"""The semantic features of a request (tools, tool choice, output, reasoning) in Gemini's fields.

- ``tools=`` become one ``{"functionDeclarations": [...]}`` tool: name, description
  (required by Google's export, so a tool without one gets its name), and the argument
  schema as ``parametersJsonSchema`` or, where the API version/model needs the OpenAPI
  subset (:func:`~patchwire_gemini.generations.json_schema_fields`), ``parameters``.
- ``tool_choice``: ``auto`` -> mode ``AUTO``, ``none`` -> ``NONE``, ``required`` ->
  ``ANY``, a tool's name -> ``ANY`` with ``allowedFunctionNames: [name]``. Gemini has no
  parallel-call switch: ``parallel_tool_calls=False`` is enforced on the reply, which
  keeps the first call only (:mod:`patchwire_gemini.response`).
- ``output=``: ``responseMimeType: application/json`` with ``responseJsonSchema`` or
  ``responseSchema``.
- ``reasoning=``: Gemini 3 takes ``thinkingLevel`` (``LOW``/``MEDIUM``/``HIGH``; a token
  budget is read as the nearest level, 0 as ``MINIMAL``, the least Gemini 3 allows);
  2.5 takes ``thinkingBudget`` (low 1024, medium 8192, high 24576 tokens, or the budget
  given). ``includeThoughts`` is set so the reply carries the thought summary. Models
  before 2.5 do not think: ``reasoning=`` for them is refused before sending.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from patchwire.errors import InvalidRequestError
from patchwire.tools import ToolSpec
from patchwire.types import CompletionRequest

from patchwire_gemini.generations import json_schema_fields, thinks, uses_thinking_level
from patchwire_gemini.openapi_schema import SchemaSubsetError, to_openapi

__all__ = [
    "BUDGETS",
    "JSON_SCHEMA_KEYWORDS",
    "feature_fields",
    "fit_json_schema",
    "thinking_config",
]

#: thinking tokens for each effort word on budget-based models (2.5)
BUDGETS: Final = {"low": 1024, "medium": 8192, "high": 24576}
_LEVELS: Final = {"low": "LOW", "medium": "MEDIUM", "high": "HIGH"}
#: the JSON Schema keywords responseJsonSchema/parametersJsonSchema read (WIRE-RICH §2)
JSON_SCHEMA_KEYWORDS: Final = frozenset(
    {
        "$id",
        "$defs",
        "$ref",
        "$anchor",
        "type",
        "format",
        "title",
        "description",
        "enum",
        "items",
        "prefixItems",
        "minItems",
        "maxItems",
        "minimum",
        "maximum",
        "anyOf",
        "oneOf",
        "properties",
        "additionalProperties",
        "required",
        "propertyOrdering",
    }
)
_CHOICE_MODES: Final = {"auto": "AUTO", "none": "NONE", "required": "ANY"}


def _level(budget: int) -> str:
    if budget == 0:
        return "MINIMAL"
    if budget <= BUDGETS["low"]:
        return "LOW"
    return "MEDIUM" if budget <= BUDGETS["medium"] else "HIGH"


def thinking_config(model: str, reasoning: str | int) -> dict[str, Any]:
    """``generationConfig.thinkingConfig`` for ``reasoning=`` on ``model``."""
    if not thinks(model):
        raise InvalidRequestError(
            f"model {model!r} does not think (Gemini thinks from 2.5 on), so it cannot take"
            " reasoning=; leave it out or use a gemini-2.5 or later model",
            model=model,
        )
    if uses_thinking_level(model):
        level = _LEVELS[reasoning] if isinstance(reasoning, str) else _level(reasoning)
        return {"thinkingLevel": level, "includeThoughts": True}
    budget = BUDGETS[reasoning] if isinstance(reasoning, str) else reasoning
    return {"thinkingBudget": budget, "includeThoughts": budget != 0}


def fit_json_schema(schema: Any) -> Any:
    """``schema`` within the keywords Gemini's JSON Schema fields read.

    ``const`` becomes a one-value ``enum``; other keywords outside the subset (string
    lengths, patterns, exclusive bounds, defaults) are left out of what is sent. The
    reply is still validated against the caller's whole schema by core.
    """
    if isinstance(schema, list):
        return [fit_json_schema(item) for item in schema]
    if not isinstance(schema, Mapping):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "const":
            out["enum"] = [value]
        elif key in ("properties", "$defs"):
            out[key] = {name: fit_json_schema(sub) for name, sub in value.items()}
        elif key in ("enum", "required", "propertyOrdering"):
            out[key] = list(value)  # values, not schemas
        elif key in JSON_SCHEMA_KEYWORDS:
            out[key] = fit_json_schema(value) if isinstance(value, Mapping | list) else value
    return out


def _schema(schema: Mapping[str, Any], json_form: bool, what: str, model: str) -> Any:
    if json_form:
        return fit_json_schema(schema)
    try:
        return to_openapi(schema)
    except SchemaSubsetError as exc:
        raise InvalidRequestError(
            f"{what} cannot be sent in Gemini's OpenAPI schema subset: {exc}", model=model
        ) from None


def _declaration(tool: ToolSpec, json_form: bool, model: str) -> dict[str, Any]:
    declaration: dict[str, Any] = {"name": tool.name, "description": tool.description or tool.name}
    if not tool.parameters.get("properties") and not json_form:
        return declaration  # a tool without arguments: the subset has no empty OBJECT
    key = "parametersJsonSchema" if json_form else "parameters"
    what = f"the parameters of tool {tool.name!r}"
    declaration[key] = _schema(tool.parameters, json_form, what, model)
    return declaration


def feature_fields(
    request: CompletionRequest, api_version: str | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(top-level body fields, generationConfig fields) for the request's features."""
    model = request.model
    json_form = json_schema_fields(model, api_version)
    body: dict[str, Any] = {}
    config: dict[str, Any] = {}
    if request.tools:
        body["tools"] = [
            {"functionDeclarations": [_declaration(t, json_form, model) for t in request.tools]}
        ]
    choice = request.tool_choice
    if choice is not None:
        mode = _CHOICE_MODES.get(choice)
        calling: dict[str, Any] = {"mode": mode or "ANY"}
        if mode is None:
            calling["allowedFunctionNames"] = [choice]
        body["toolConfig"] = {"functionCallingConfig": calling}
    output = request.output
    if output is not None:
        config["responseMimeType"] = "application/json"
        key = "responseJsonSchema" if json_form else "responseSchema"
        config[key] = _schema(output.schema, json_form, f"output {output.name!r}", model)
    if request.reasoning is not None:
        config["thinkingConfig"] = thinking_config(model, request.reasoning)
    return body, config
