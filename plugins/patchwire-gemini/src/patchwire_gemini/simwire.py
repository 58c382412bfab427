"""The Gemini wire format for patchwire's simulator (``patchwire simulate gemini``).

It answers as ``generativelanguage.googleapis.com/v1beta`` does: ``models/NAME:method``
paths, the key in ``x-goog-api-key`` (or ``?key=``, or an OAuth bearer token), SSE
events separated by CRLF pairs and ending without a terminator, usage in every event
and the totals in the last, ``google.rpc.Status`` errors with ``ErrorInfo``,
``QuotaFailure`` and ``RetryInfo`` details, and no rate-limit headers at all: Google
states the wait in the body only. Unknown JSON fields are refused, as Google's
front end does, so a misspelt request field fails here as it would in production.

Rich requests (parts, function calls and responses, declarations, calling config,
response schemas, thinking) are read by :mod:`patchwire_gemini.simwire_rich`, which also
issues and checks thought signatures; the answers here spell thought summaries, calls
(whole, the first one signed) and ``thoughtsTokenCount``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from typing import Any, Final

from patchwire.testing.sim_cache import CacheBlock, CachePlan, canonical
from patchwire.testing.sim_content import count_tokens
from patchwire.testing.sim_limits import LimitKind, LimitState
from patchwire.testing.sim_wire import (
    ErrorDetail,
    ErrorKind,
    SimReply,
    SimRequest,
    SimResponse,
    SimRoute,
    StreamPlan,
    WireRequestError,
    compact_json,
)

from patchwire_gemini.simwire_rich import (
    MEDIA_TOKENS,
    Reading,
    answer_parts,
    call_parts,
    read_contents,
    read_generation,
    read_tools,
    signs,
    thought_parts,
)
from patchwire_gemini.simwire_schemas import camel
from patchwire_gemini.simwire_signatures import text_signature

__all__ = ["BLOCK_PROMPT", "BLOCK_RESPONSE", "GeminiWire", "format_duration"]

#: A prompt containing this is blocked as Gemini blocks an unsafe prompt: HTTP 200,
#: ``promptFeedback.blockReason`` SAFETY and no candidates.
BLOCK_PROMPT: Final = "#sim-block-prompt"
#: A prompt containing this gets an answer stopped by the safety filter: finish reason
#: SAFETY (a stream sends its text first, then the SAFETY finish).
BLOCK_RESPONSE: Final = "#sim-block-response"

# Implicit caching (ai.google.dev/gemini-api/docs/caching, copy of 2026-05-07): on for
# Gemini 2.5 and later, from 1024 tokens on Flash and 4096 on Pro; Flash-Lite refuses
# caches under 2048 (discuss.ai.google.dev thread 178942). How long an implicit cache
# lives is not documented: the simulator keeps a prefix five minutes.
_CACHE_MINIMUMS: Final = (("flash-lite", 2048), ("pro", 4096))
_CACHE_MINIMUM: Final = 1024
_CACHE_TTL: Final = 300.0

_RPC: Final = "type.googleapis.com/google.rpc."
_MODEL: Final = "{model:[^/:]+}"

# Fields of the request messages the simulator knows, in proto JSON's lowerCamelCase;
# Google also accepts the proto's snake_case names, so both are checked.
_GENERATE_FIELDS: Final = frozenset(
    {
        "model",
        "contents",
        "systemInstruction",
        "tools",
        "toolConfig",
        "safetySettings",
        "generationConfig",
        "cachedContent",
    }
)
_CONFIG_FIELDS: Final = frozenset(
    {
        "candidateCount",
        "stopSequences",
        "maxOutputTokens",
        "temperature",
        "topP",
        "topK",
        "seed",
        "responseMimeType",
        "responseSchema",
        "responseJsonSchema",
        "presencePenalty",
        "frequencyPenalty",
        "responseLogprobs",
        "logprobs",
        "enableEnhancedCivicAnswers",
        "responseModalities",
        "speechConfig",
        "thinkingConfig",
        "imageConfig",
        "mediaResolution",
    }
)
_EMBED_FIELDS: Final = frozenset({"model", "content", "taskType", "title", "outputDimensionality"})
_CONTENT_FIELDS: Final = frozenset({"parts", "role"})

_HARASSMENT: Final = {
    "category": "HARM_CATEGORY_HARASSMENT",
    "probability": "HIGH",
    "blocked": True,
}

_SERVER_ERRORS: Final = (
    (500, "INTERNAL", "An internal error has occurred. Please retry or report the problem."),
    (503, "UNAVAILABLE", "The service is currently unavailable."),
    (504, "DEADLINE_EXCEEDED", "Deadline expired before operation could complete."),
)


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def _field(data: Mapping[str, Any], name: str) -> Any:
    """A field by its lowerCamelCase name, or by the proto's snake_case one."""
    value = data.get(name)
    return data.get(_snake(name)) if value is None else value


def format_duration(seconds: float) -> str:
    """A protobuf JSON Duration for ``seconds`` to the millisecond: ``"46s"``, ``"0.25s"``."""
    millis = round(seconds * 1000)
    whole, fraction = divmod(millis, 1000)
    if fraction == 0:
        return f"{whole}s"
    return f"{whole}.{fraction:03d}".rstrip("0") + "s"


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise WireRequestError(
            f"Invalid value at '{where}': expected an object, got {type(value).__name__}",
            param=where,
        )
    return value


def _known(value: Mapping[str, Any], fields: frozenset[str], where: str) -> None:
    for key in value:
        if camel(key) not in fields:
            at = f" at '{where}'" if where else ""
            raise WireRequestError(
                f'Invalid JSON payload received. Unknown name "{key}"{at}: Cannot find field.',
                param=f"{where}.{key}" if where else key,
            )


def _text_of(content: Any, where: str, *, turn: bool = True) -> tuple[str | None, str]:
    """The role and joined text of one Content (``turn`` False: a system instruction, whose role is ignored)."""
    content = _object(content, where)
    _known(content, _CONTENT_FIELDS, where)
    role = content.get("role")
    if turn and role is not None and role not in ("user", "model"):
        raise WireRequestError(
            f"Please use a valid role: user, model. Got {role!r}.", param=f"{where}.role"
        )
    parts = content.get("parts")
    if not isinstance(parts, list) or not parts:
        raise WireRequestError(
            f"* GenerateContentRequest.{where}.parts: contents.parts must not be empty.",
            param=f"{where}.parts",
        )
    texts: list[str] = []
    for index, part in enumerate(parts):
        part = _object(part, f"{where}.parts[{index}]")
        text = part.get("text")
        if text is not None and not isinstance(text, str):
            raise WireRequestError(
                f"Invalid value at '{where}.parts[{index}].text': expected a string",
                param=f"{where}.parts[{index}].text",
            )
        if text:
            texts.append(text)
    return role, "".join(texts)


def _int_field(config: Mapping[str, Any], name: str, where: str) -> int | None:
    value = _field(config, name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise WireRequestError(
            f"Invalid value at '{where}.{name}' (TYPE_INT32), {json.dumps(value)}",
            param=f"{where}.{name}",
        )
    return value


def _status(code: int, name: str, message: str, details: Sequence[Any] = ()) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message, "status": name}
    if details:
        error["details"] = list(details)
    return {"error": error}


def _json(status: int, body: Any, retry_after: float | None = None) -> SimResponse:
    return SimResponse(
        status,
        json.dumps(body, separators=(",", ": ")).encode(),
        content_type="application/json; charset=UTF-8",
        retry_after=retry_after,
    )


def _too_many_tokens(asked: int, limit: int) -> SimResponse:
    """Gemini's 400 for input over a model's token limit (its context window)."""
    message = (
        f"The input token count ({asked}) exceeds the maximum number of tokens allowed ({limit})."
    )
    return _json(400, _status(400, "INVALID_ARGUMENT", message))


def cache_minimum(model: str) -> int:
    """The shortest prompt prefix ``model`` caches implicitly, in tokens."""
    return next((n for part, n in _CACHE_MINIMUMS if part in model), _CACHE_MINIMUM)


def _cache_plan(data: Mapping[str, Any], contents: Sequence[Any], model: str) -> CachePlan:
    # The system instruction and the tools come before the contents in the prompt.
    system = _field(data, "systemInstruction")
    head = [system, _field(data, "tools"), _field(data, "toolConfig")]
    system_tokens = (
        count_tokens(_text_of(system, "system_instruction", turn=False)[1]) if system else 0
    )
    blocks = [CacheBlock(canonical(head), system_tokens)]
    blocks += [
        CacheBlock(canonical(content), count_tokens(_text_of(content, "contents")[1]))
        for content in contents
    ]
    return CachePlan(tuple(blocks), minimum=cache_minimum(model), implicit_ttl=_CACHE_TTL)


def _frame(payload: Any) -> bytes:
    return b"data: " + compact_json(payload) + b"\r\n\r\n"


class GeminiWire:
    """Gemini's v1beta REST API as the simulator answers it."""

    name = "gemini"
    connector_type = "gemini"
    prefix = "/v1beta"
    example_model = "gemini-2.5-flash"
    routes: Sequence[SimRoute] = (
        SimRoute(f"/models/{_MODEL}:generateContent", "chat", stream=False),
        SimRoute(f"/models/{_MODEL}:streamGenerateContent", "chat", stream=True),
        SimRoute(f"/models/{_MODEL}:embedContent", "embed", stream=False),
        SimRoute(f"/models/{_MODEL}:batchEmbedContents", "embed", stream=False),
    )

    def credential(self, headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
        key = headers.get("x-goog-api-key") or query.get("key")
        if key:
            return key
        scheme, _, token = (headers.get("authorization") or "").partition(" ")
        if scheme.lower() == "bearer" and token:
            return token.strip()
        return None

    def parse(self, route: SimRoute, body: bytes, path_params: Mapping[str, str]) -> SimRequest:
        model = path_params.get("model", "")
        try:
            data = json.loads(body) if body.strip() else {}
        except (ValueError, UnicodeDecodeError):
            raise WireRequestError(
                "Invalid JSON payload received. Unexpected token.", param="body"
            ) from None
        data = _object(data, "body")
        if route.path.endswith(":batchEmbedContents"):
            return self._parse_batch(model, data)
        if route.operation == "embed":
            return self._parse_embed(model, data)
        return self._parse_generate(model, data, bool(route.stream))

    def _parse_generate(self, model: str, data: Mapping[str, Any], stream: bool) -> SimRequest:
        _known(data, _GENERATE_FIELDS, "")
        contents = data.get("contents")
        if not isinstance(contents, list) or not contents:
            raise WireRequestError(
                "* GenerateContentRequest.contents: contents is not specified", param="contents"
            )
        for index, content in enumerate(contents):
            _text_of(content, f"contents[{index}]")
        reading = Reading()
        read_contents(contents, model, reading)
        read_tools(data, reading)
        texts = list(reading.texts)
        system = _field(data, "systemInstruction")
        if system is not None:
            texts.append(_text_of(system, "system_instruction", turn=False)[1])
        config = _object(_field(data, "generationConfig") or {}, "generation_config")
        _known(config, _CONFIG_FIELDS, "generation_config")
        read_generation(config, model, reading)
        max_tokens = _int_field(config, "maxOutputTokens", "generation_config")
        if max_tokens is not None and max_tokens < 1:
            raise WireRequestError(
                "* GenerateContentRequest.generation_config.max_output_tokens: must be positive",
                param="generation_config.max_output_tokens",
            )
        block = next(
            (
                kind
                for marker, kind in ((BLOCK_PROMPT, "prompt"), (BLOCK_RESPONSE, "response"))
                if any(marker in text for text in texts)
            ),
            None,
        )
        options: dict[str, Any] = {"thoughts": reading.thoughts}
        if block:
            options["block"] = block
        return reading.chat_request(
            model=model,
            prompt=reading.prompt,
            input_tokens=sum(count_tokens(t) for t in texts) + MEDIA_TOKENS * reading.media,
            stream=stream,
            max_tokens=max_tokens,
            options=options,
            cache_plan=_cache_plan(data, contents, model),
        )

    def _embed_request(
        self, model: str, data: Mapping[str, Any], where: str
    ) -> tuple[str, int | None]:
        _known(data, _EMBED_FIELDS, where)
        named = data.get("model")
        if named is not None and named != f"models/{model}":
            raise WireRequestError(
                f"Model name in the request ({named}) does not match the model in the path"
                f" (models/{model}).",
                param=f"{where}.model" if where else "model",
            )
        _, text = _text_of(data.get("content"), f"{where}.content" if where else "content")
        dimensions = _int_field(data, "outputDimensionality", where or "body")
        return text, dimensions

    def _parse_embed(self, model: str, data: Mapping[str, Any]) -> SimRequest:
        text, dimensions = self._embed_request(model, data, "")
        return SimRequest(
            operation="embed",
            model=model,
            input_tokens=count_tokens(text),
            inputs=(text,),
            dimensions=dimensions,
            options={"batch": False},
        )

    def _parse_batch(self, model: str, data: Mapping[str, Any]) -> SimRequest:
        _known(data, frozenset({"requests"}), "")
        requests = data.get("requests")
        if not isinstance(requests, list) or not requests:
            raise WireRequestError(
                "* BatchEmbedContentsRequest.requests: requests is not specified",
                param="requests",
            )
        if len(requests) > 100:
            raise WireRequestError(
                "* BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch",
                param="requests",
            )
        inputs: list[str] = []
        sizes: set[int | None] = set()
        for index, entry in enumerate(requests):
            text, dimensions = self._embed_request(
                model, _object(entry, f"requests[{index}]"), f"requests[{index}]"
            )
            inputs.append(text)
            sizes.add(dimensions)
        return SimRequest(
            operation="embed",
            model=model,
            input_tokens=sum(count_tokens(t) for t in inputs),
            inputs=tuple(inputs),
            dimensions=next(iter(sizes)) if len(sizes) == 1 else None,
            options={"batch": True},
        )

    def default_dimensions(self, model: str) -> int:
        return 3072 if model.startswith("gemini-embedding") else 768

    def headers(self, request_id: str) -> Mapping[str, str]:
        return {}

    def _usage(self, reply: SimReply, *, final: bool) -> dict[str, Any]:
        thoughts = reply.reasoning_tokens if final else 0
        usage: dict[str, Any] = {
            "promptTokenCount": reply.input_tokens,
            # Thoughts are not part of the candidates count, but are of the total.
            "totalTokenCount": reply.input_tokens
            + (reply.output_tokens if final else 0)
            + thoughts,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": reply.input_tokens}],
        }
        if reply.cache.read:
            # A part of promptTokenCount; left out when zero, as proto JSON leaves defaults.
            usage["cachedContentTokenCount"] = reply.cache.read
            usage["cacheTokensDetails"] = [{"modality": "TEXT", "tokenCount": reply.cache.read}]
        if final:
            usage["candidatesTokenCount"] = reply.output_tokens
            if thoughts:
                usage["thoughtsTokenCount"] = thoughts
        return usage

    def _candidate(self, parts: list[dict[str, Any]], finish: str | None) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
        if finish is not None:
            candidate["finishReason"] = finish
        return candidate

    def _finish_reason(self, reply: SimReply) -> str:
        return "MAX_TOKENS" if reply.truncated else "STOP"

    def _generate(
        self, request: SimRequest, reply: SimReply, parts: list[dict[str, Any]], *, final: bool
    ) -> dict[str, Any]:
        candidate = self._candidate(parts, self._finish_reason(reply) if final else None)
        if final and request.options.get("block") == "response":
            candidate = {"finishReason": "SAFETY", "index": 0, "safetyRatings": [_HARASSMENT]}
        return {
            "candidates": [candidate],
            "usageMetadata": self._usage(reply, final=final),
            "modelVersion": request.model,
            "responseId": reply.request_id,
        }

    def _blocked_prompt(self, request: SimRequest, reply: SimReply) -> dict[str, Any]:
        return {
            "promptFeedback": {"blockReason": "SAFETY", "safetyRatings": [_HARASSMENT]},
            "usageMetadata": {
                "promptTokenCount": reply.input_tokens,
                "totalTokenCount": reply.input_tokens,
            },
            "modelVersion": request.model,
            "responseId": reply.request_id,
        }

    def success(self, request: SimRequest, reply: SimReply) -> SimResponse:
        if request.operation == "embed":
            if request.options.get("batch"):
                body: Any = {"embeddings": [{"values": list(v)} for v in reply.vectors]}
            else:
                body = {"embedding": {"values": list(reply.vectors[0])}}
            return _json(200, body)
        if request.options.get("block") == "prompt":
            return _json(200, self._blocked_prompt(request, reply))
        return _json(200, self._generate(request, reply, answer_parts(request, reply), final=True))

    def stream(self, request: SimRequest, reply: SimReply) -> StreamPlan:
        if request.options.get("block") == "prompt":
            return StreamPlan(
                head=(), pieces=(), tail=(_frame(self._blocked_prompt(request, reply)),)
            )
        head = tuple(
            _frame(self._generate(request, reply, [part], final=False))
            for part in thought_parts(request, reply)
        )
        if reply.tool_calls:
            # Each call comes whole; a parallel turn's calls come in one event.
            pieces: tuple[bytes, ...] = (
                _frame(self._generate(request, reply, call_parts(request, reply), final=False)),
            )
        else:
            pieces = tuple(
                _frame(self._generate(request, reply, [{"text": piece}], final=False))
                for piece in reply.pieces
            )
        # Gemini's last event names the finish reason and carries the totals; it may bring
        # no text of its own, only the turn's signature on an empty text part.
        last: dict[str, Any] = {"text": ""}
        if not reply.tool_calls and signs(request, reply):
            last["thoughtSignature"] = text_signature(reply.request_id)
        tail = (_frame(self._generate(request, reply, [last], final=True)),)
        return StreamPlan(head=head, pieces=pieces, tail=tail)

    def context_overflow(self, detail: ErrorDetail, window: int) -> SimResponse:
        """A request over the model's input token limit, as the Gemini API refuses it."""
        tokens = detail.request.input_tokens if detail.request is not None else 0
        return _too_many_tokens(tokens, window)

    def error(self, detail: ErrorDetail) -> SimResponse:
        kind = detail.kind
        retry = [self._retry_info(detail.retry_after)] if detail.retry_after is not None else []
        if kind is ErrorKind.AUTH and detail.message == "missing credential":
            return _json(
                403,
                _status(
                    403,
                    "PERMISSION_DENIED",
                    "Method doesn't allow unregistered callers (callers without established"
                    " identity). Please use API Key or other form of API consumer identity to"
                    " call this API.",
                ),
            )
        if kind is ErrorKind.AUTH:
            return _json(
                400,
                _status(
                    400,
                    "INVALID_ARGUMENT",
                    "API key not valid. Please pass a valid API key.",
                    [
                        {
                            "@type": _RPC + "ErrorInfo",
                            "reason": "API_KEY_INVALID",
                            "domain": "googleapis.com",
                            "metadata": {"service": "generativelanguage.googleapis.com"},
                        },
                        {
                            "@type": _RPC + "LocalizedMessage",
                            "locale": "en-US",
                            "message": "API key not valid. Please pass a valid API key.",
                        },
                    ],
                ),
            )
        if kind is ErrorKind.INVALID_REQUEST:
            details: list[Any] = []
            if detail.param:
                details.append(
                    {
                        "@type": _RPC + "BadRequest",
                        "fieldViolations": [{"field": detail.param, "description": detail.message}],
                    }
                )
            return _json(
                400,
                _status(400, "INVALID_ARGUMENT", detail.message or "Invalid argument.", details),
            )
        if kind is ErrorKind.NOT_FOUND:
            message = detail.message or f"The requested path {detail.path} was not found."
            return _json(404, _status(404, "NOT_FOUND", message))
        if kind is ErrorKind.TOO_LARGE:
            breach = detail.breach
            limit = breach.limit if breach is not None else 0
            asked = breach.requested if breach is not None else 0
            return _too_many_tokens(asked, limit)
        if kind is ErrorKind.RATE_LIMITED:
            per_tokens = detail.breach is not None and detail.breach.kind is LimitKind.TOKENS
            violation = self._violation(
                "GenerateContentInputTokensPerModelPerMinute-FreeTier"
                if per_tokens
                else "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                detail,
            )
            return self._exhausted(violation, retry, detail.retry_after)
        if kind is ErrorKind.QUOTA_EXHAUSTED:
            # Google adds a RetryInfo even to per-day quotas; only the quota id says that
            # waiting seconds will not help.
            violation = self._violation("GenerateRequestsPerDayPerProjectPerModel-FreeTier", detail)
            hint = 13.0 if detail.retry_after is None else detail.retry_after
            return self._exhausted(violation, [self._retry_info(hint)], hint)
        if kind is ErrorKind.OVERLOADED:
            return _json(
                503,
                _status(
                    503, "UNAVAILABLE", "The model is overloaded. Please try again later.", retry
                ),
                detail.retry_after,
            )
        code, name, message = _SERVER_ERRORS[detail.rng.randrange(len(_SERVER_ERRORS))]
        return _json(code, _status(code, name, message))

    def _retry_info(self, seconds: float) -> dict[str, Any]:
        return {"@type": _RPC + "RetryInfo", "retryDelay": format_duration(seconds)}

    def _violation(self, quota_id: str, detail: ErrorDetail) -> dict[str, Any]:
        model = detail.request.model if detail.request is not None else "unknown"
        limit = detail.breach.limit if detail.breach is not None else 2
        metric = "input_token_count" if "Tokens" in quota_id else "requests"
        return {
            "quotaMetric": f"generativelanguage.googleapis.com/generate_content_free_tier_{metric}",
            "quotaId": quota_id,
            "quotaDimensions": {"location": "global", "model": model},
            "quotaValue": str(limit),
        }

    def _exhausted(
        self, violation: Mapping[str, Any], retry: list[Any], hint: float | None
    ) -> SimResponse:
        message = (
            "You exceeded your current quota, please check your plan and billing details."
            f" Quota exceeded for metric: {violation['quotaMetric']},"
            f" limit: {violation['quotaValue']}"
        )
        details = [
            {"@type": _RPC + "QuotaFailure", "violations": [violation]},
            {
                "@type": _RPC + "Help",
                "links": [
                    {
                        "description": "Learn more about Gemini API quotas",
                        "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
                    }
                ],
            },
            *retry,
        ]
        return _json(429, _status(429, "RESOURCE_EXHAUSTED", message, details), hint)

    def malformed(
        self, request: SimRequest, reply: SimReply, rng: random.Random
    ) -> SimResponse | StreamPlan:
        broken = (
            b'{"candidates": [{"content": {"parts": [{"text": "cut',
            json.dumps({"candidates": "not a list", "responseId": reply.request_id}).encode(),
        )[rng.randrange(2)]
        if request.stream:
            return StreamPlan(head=(), pieces=(b"data: " + broken + b"\r\n\r\n",), tail=())
        return SimResponse(200, broken, content_type="application/json; charset=UTF-8")

    def limit_headers(self, state: LimitState, now_wall: float) -> Mapping[str, str]:
        return {}
