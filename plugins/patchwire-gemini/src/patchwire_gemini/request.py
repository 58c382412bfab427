"""Request bodies in Gemini's wire format, from patchwire's requests.

Messages and their parts become ``contents`` and ``systemInstruction``
(:mod:`patchwire_gemini.request_parts`), the generation parameters (patchwire names) map
to ``generationConfig``, and tools, tool choice, output and reasoning to their fields
(:mod:`patchwire_gemini.request_features`). A parameter the API would refuse is refused here, before sending,
with a message that names it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import quote

from patchwire.errors import InvalidRequestError
from patchwire.types import CompletionRequest, EmbeddingRequest

from patchwire_gemini.request_features import feature_fields
from patchwire_gemini.request_parts import build_contents

__all__ = [
    "EMBED_PARAMS",
    "GENERATION_PARAMS",
    "MAX_BATCH",
    "MAX_STOP_SEQUENCES",
    "TASK_TYPES",
    "batch_embed_body",
    "embed_body",
    "generate_body",
    "model_resource",
    "model_url",
]

#: most requests one batchEmbedContents call may carry
MAX_BATCH: Final = 100
MAX_STOP_SEQUENCES: Final = 5
_INT32_MAX: Final = 2**31 - 1

#: values of the spec's TaskType enum a caller may ask for
TASK_TYPES: Final = frozenset(
    {
        "RETRIEVAL_QUERY",
        "RETRIEVAL_DOCUMENT",
        "SEMANTIC_SIMILARITY",
        "CLASSIFICATION",
        "CLUSTERING",
        "QUESTION_ANSWERING",
        "FACT_VERIFICATION",
        "CODE_RETRIEVAL_QUERY",
    }
)


def _number(low: float, high: float) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"expected a number, got {type(value).__name__}"
        if not low <= value <= high:
            return f"must be between {low:g} and {high:g}, got {value!r}"
        return None

    return check


def _integer(low: int, high: int = _INT32_MAX) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"expected an integer, got {type(value).__name__}"
        if not low <= value <= high:
            return f"must be between {low} and {high}, got {value!r}"
        return None

    return check


def _stop(value: Any) -> str | None:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(s, str) for s in items):
        return "expected a string or a list of strings"
    if len(items) > MAX_STOP_SEQUENCES:
        return f"Gemini accepts at most {MAX_STOP_SEQUENCES} stop sequences, got {len(items)}"
    return None


#: patchwire parameter -> (generationConfig field, check)
GENERATION_PARAMS: Final[Mapping[str, tuple[str, Callable[[Any], str | None]]]] = {
    "max_tokens": ("maxOutputTokens", _integer(1)),
    "temperature": ("temperature", _number(0.0, 2.0)),
    "top_p": ("topP", _number(0.0, 1.0)),
    "top_k": ("topK", _integer(1)),
    "stop": ("stopSequences", _stop),
    "seed": ("seed", _integer(-(2**31))),
    "presence_penalty": ("presencePenalty", _number(-2.0, 2.0)),
    "frequency_penalty": ("frequencyPenalty", _number(-2.0, 2.0)),
    # -1 asks the model to choose its own budget; 0 turns thinking off where allowed
    "thinking_budget": ("thinkingBudget", _integer(-1)),
}


def _task_type(value: Any) -> str | None:
    if value not in TASK_TYPES:
        return f"expected one of {', '.join(sorted(TASK_TYPES))}, got {value!r}"
    return None


#: patchwire embedding parameter -> (EmbedContentRequest field, check)
EMBED_PARAMS: Final[Mapping[str, tuple[str, Callable[[Any], str | None]]]] = {
    "dimensions": ("outputDimensionality", _integer(1)),
    "task_type": ("taskType", _task_type),
}


def model_resource(model: str) -> str:
    """The resource name Gemini expects: ``models/NAME`` unless already a resource name."""
    if model.startswith(("models/", "tunedModels/")):
        return model
    return f"models/{model}"


def model_url(base_url: str, model: str, method: str) -> str:
    """``{base}/models/NAME:method``, the model name escaped as one path segment."""
    resource = quote(model_resource(model), safe="/")
    return f"{base_url.rstrip('/')}/{resource}:{method}"


def _invalid(message: str, model: str) -> InvalidRequestError:
    return InvalidRequestError(message, model=model)


def _checked(
    params: Mapping[str, Any],
    known: Mapping[str, tuple[str, Callable[[Any], str | None]]],
    model: str,
    what: str,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in params.items():
        if value is None:
            continue
        spec = known.get(key)
        if spec is None:
            raise _invalid(
                f"the gemini connector does not support the {what} parameter '{key}';"
                f" supported: {', '.join(sorted(known))}",
                model,
            )
        field, check = spec
        problem = check(value)
        if problem is not None:
            raise _invalid(f"{what} parameter '{key}': {problem}", model)
        out[field] = [value] if key == "stop" and isinstance(value, str) else value
    return out


def generate_body(
    request: CompletionRequest,
    defaults: Mapping[str, Any] | None = None,
    *,
    api_version: str | None = None,
    connector: str | None = None,
) -> dict[str, Any]:
    """The GenerateContentRequest for ``request``; ``defaults`` are parameters the call may override.

    ``api_version`` (None: v1beta) and the model's generation decide how schemas and
    reasoning are spelled (:mod:`patchwire_gemini.request_features`).
    """
    contents, system = build_contents(request.messages, request.model, connector)
    params = request.params
    if "user" in params:
        # Gemini has no end-user field; ``user`` is an abuse-monitoring hint, so it is not sent.
        params = {k: v for k, v in params.items() if k != "user"}
    merged = {**defaults, **params} if defaults else params
    features = request.features
    if features is not None and features.reasoning is not None:
        if "thinking_budget" in params:
            raise _invalid("give reasoning= or thinking_budget, not both", request.model)
        # the call's reasoning= beats the configured default
        merged = {k: v for k, v in merged.items() if k != "thinking_budget"}
    config = _checked(merged, GENERATION_PARAMS, request.model, "generation")
    budget = config.pop("thinkingBudget", None)
    if budget is not None:
        config["thinkingConfig"] = {"thinkingBudget": budget}
    # The spec marks ``model`` required in the body too; the API accepts it beside the path.
    body: dict[str, Any] = {"model": model_resource(request.model), "contents": contents}
    if system:
        body["systemInstruction"] = {"parts": system}
    if features is not None:
        fields, rich = feature_fields(request, api_version)
        body.update(fields)
        config.update(rich)
    if config:
        body["generationConfig"] = config
    return body


def _embed_fields(request: EmbeddingRequest, defaults: Mapping[str, Any] | None) -> dict[str, Any]:
    params = {**(defaults or {}), **request.params}
    return _checked(params, EMBED_PARAMS, request.model, "embedding")


def embed_body(
    request: EmbeddingRequest, text: str, defaults: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """One EmbedContentRequest for ``text``."""
    return {
        "model": model_resource(request.model),
        "content": {"parts": [{"text": text}]},
        **_embed_fields(request, defaults),
    }


def batch_embed_body(
    request: EmbeddingRequest, defaults: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """One BatchEmbedContentsRequest for every input of ``request``, in order."""
    if len(request.inputs) > MAX_BATCH:
        raise _invalid(
            f"Gemini embeds at most {MAX_BATCH} texts per batch, got {len(request.inputs)}",
            request.model,
        )
    fields = _embed_fields(request, defaults)
    resource = model_resource(request.model)
    return {
        "requests": [
            {"model": resource, "content": {"parts": [{"text": text}]}, **fields}
            for text in request.inputs
        ]
    }
