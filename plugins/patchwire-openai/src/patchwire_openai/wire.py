"""OpenAI's wire format for patchwire's simulator (``patchwire simulate openai``).

Answers the way api.openai.com does, as the spec (openai-openapi 2.3.0) and the official
SDK read it: chat completions (plain, and streamed as ``chat.completion.chunk`` events
with the usage chunk before ``data: [DONE]`` when ``stream_options.include_usage``),
embeddings (float or base64), errors as ``{"error": {message, type, param, code}}``,
the three kinds of 429, and ``x-ratelimit-*`` headers with Go-style reset durations.
Prompts of 1024 tokens or more are cached automatically, as OpenAI does: a prefix seen
before is reported in ``usage.prompt_tokens_details.cached_tokens``.
"""

from __future__ import annotations

import base64
import json
import math
import random
import struct
from collections.abc import Mapping, Sequence
from email.utils import formatdate
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
from patchwire.transforms.overflow import CONTEXT_LENGTH_EXCEEDED

from patchwire_openai.ratelimit import format_go_duration
from patchwire_openai.wire_rich import read_chat, tool_call_fragments, tool_calls_json

__all__ = ["OpenAIWire"]

ORGANIZATION: Final = "org-simulated"
FINGERPRINT: Final = "fp_simulated"
_ROLES: Final = frozenset({"developer", "system", "user", "assistant", "tool", "function"})
_LIMIT_NAMES: Final = {
    LimitKind.REQUESTS: "requests per min (RPM)",
    LimitKind.TOKENS: "tokens per min (TPM)",
}
_RATE_LIMITS_URL: Final = "Visit https://platform.openai.com/account/rate-limits to learn more."
_DIMENSIONS: Final = {"text-embedding-3-large": 3072}
_FIXED_DIMENSIONS: Final = frozenset({"text-embedding-ada-002"})
#: what the simulator counts per image or file part (OpenAI's rule depends on size and detail)
_IMAGE_TOKENS: Final = 765
# Prompt caching (platform.openai.com/docs/guides/prompt-caching): automatic for prompts
# of 1024 tokens or more, hits reported in increments of 128 tokens; in-memory prefixes
# stay "for 5 to 10 minutes of inactivity": the simulator keeps them for the lower bound.
_CACHE_MINIMUM: Final = 1024
_CACHE_INCREMENT: Final = 128
_CACHE_TTL: Final = 300.0


def _frame(data: Any) -> bytes:
    return b"data: " + compact_json(data) + b"\n\n"


def _error_body(
    message: str, type_: str, param: str | None = None, code: str | None = None
) -> bytes:
    return compact_json(
        {"error": {"message": message, "type": type_, "param": param, "code": code}}
    )


def _positive_int(data: Mapping[str, Any], name: str) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise WireRequestError(
            f"Invalid type for '{name}': expected an integer, but got {type(value).__name__} instead.",
            param=name,
        )
    if value < 1:
        raise WireRequestError(
            f"Invalid '{name}': integer below minimum value. Expected a value >= 1, but got"
            f" {value} instead.",
            param=name,
        )
    return value


def _number_in(data: Mapping[str, Any], name: str, low: float, high: float) -> None:
    value = data.get(name)
    if value is None:
        return
    if not isinstance(value, int | float) or isinstance(value, bool) or not low <= value <= high:
        raise WireRequestError(
            f"Invalid '{name}': expected a number between {low:g} and {high:g}, got {value!r}.",
            param=name,
        )


class OpenAIWire:
    """The OpenAI API as the simulator serves it under ``/v1``."""

    name = "openai"
    connector_type = "openai"
    prefix = "/v1"
    example_model = "gpt-4o-mini"
    routes: Sequence[SimRoute] = (
        SimRoute("/chat/completions", "chat"),
        SimRoute("/embeddings", "embed"),
    )

    # --- reading requests -------------------------------------------------------------------

    def credential(self, headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
        scheme, _, token = (headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return token.strip()

    def parse(self, route: SimRoute, body: bytes, path_params: Mapping[str, str]) -> SimRequest:
        try:
            data = json.loads(body)
        except ValueError:
            raise WireRequestError(
                "We could not parse the JSON body of your request. (HINT: This likely means you"
                " aren't using your HTTP library correctly. The OpenAI API expects a JSON payload,"
                " but what was sent was not valid JSON.)"
            ) from None
        if not isinstance(data, dict):
            raise WireRequestError("The request body must be a JSON object.")
        model = data.get("model")
        if not isinstance(model, str) or not model:
            raise WireRequestError("you must provide a model parameter", param="model")
        if route.operation == "embed":
            return self._parse_embeddings(data, model)
        return self._parse_chat(data, model)

    def _parse_chat(self, data: Mapping[str, Any], model: str) -> SimRequest:
        messages = data.get("messages")
        if not isinstance(messages, list) or not messages:
            raise WireRequestError(
                "Invalid 'messages': expected a non-empty array of messages.", param="messages"
            )
        reading = read_chat(data, messages, _ROLES)
        texts = reading.texts
        stream = data.get("stream", False)
        if stream is not None and not isinstance(stream, bool):
            raise WireRequestError("Invalid type for 'stream': expected a boolean.", param="stream")
        options = data.get("stream_options")
        if options is not None and not stream:
            raise WireRequestError(
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                param="stream_options",
            )
        include_usage = isinstance(options, Mapping) and options.get("include_usage") is True
        n = data.get("n")
        if n is not None and n != 1:
            raise WireRequestError("The simulator answers one choice: 'n' must be 1.", param="n")
        _number_in(data, "temperature", 0, 2)
        _number_in(data, "top_p", 0, 1)
        max_tokens = _positive_int(data, "max_completion_tokens") or _positive_int(
            data, "max_tokens"
        )
        users = [text for role, text in texts if role == "user"]
        prompt = users[-1] if users else texts[-1][1]
        input_tokens = sum(count_tokens(text) + 3 for _, text in texts) + 3
        input_tokens += sum(count_tokens(text) for text in reading.call_texts)
        input_tokens += _IMAGE_TOKENS * reading.media
        return reading.chat_request(
            model=model,
            prompt=prompt,
            input_tokens=input_tokens,
            stream=bool(stream),
            max_tokens=max_tokens,
            options={"include_usage": include_usage},
            cache_plan=self._cache_plan(data, messages, texts),
        )

    @staticmethod
    def _cache_plan(
        data: Mapping[str, Any], messages: list[Any], texts: list[tuple[str, str]]
    ) -> CachePlan:
        # Tools and the response format come first in the prompt OpenAI caches (the
        # simulator counts no tokens for them, but a change to them is a new prefix);
        # then each message, with the three tokens of framing input_tokens counts.
        head = canonical([data.get("tools"), data.get("response_format")])
        blocks = [CacheBlock(head, 0)]
        blocks += [
            CacheBlock(canonical(message), count_tokens(text) + 3)
            for message, (_, text) in zip(messages, texts, strict=True)
        ]
        return CachePlan(
            tuple(blocks),
            minimum=_CACHE_MINIMUM,
            implicit_ttl=_CACHE_TTL,
            granularity=_CACHE_INCREMENT,
        )

    def _parse_embeddings(self, data: Mapping[str, Any], model: str) -> SimRequest:
        raw = data.get("input")
        items: list[Any] = raw if isinstance(raw, list) else [raw]
        if isinstance(raw, list) and raw and all(isinstance(x, int) for x in raw):
            items = [raw]  # one input given as token ids
        if not items or len(items) > 2048:
            raise WireRequestError(
                "'input' must be a string or an array of 1 to 2048 inputs.", param="input"
            )
        inputs: list[str] = []
        tokens = 0
        for item in items:
            if isinstance(item, str) and item:
                inputs.append(item)
                tokens += count_tokens(item)
            elif isinstance(item, list) and item and all(isinstance(t, int) for t in item):
                inputs.append(" ".join(map(str, item)))
                tokens += len(item)
            else:
                raise WireRequestError(
                    "'$.input' is invalid. Please check the API reference:"
                    " https://platform.openai.com/docs/api-reference.",
                    param="input",
                )
        encoding = data.get("encoding_format", "float")
        if encoding not in ("float", "base64"):
            raise WireRequestError(
                f"Invalid value for 'encoding_format': expected 'float' or 'base64', got {encoding!r}.",
                param="encoding_format",
            )
        dimensions = _positive_int(data, "dimensions")
        if dimensions is not None and model in _FIXED_DIMENSIONS:
            raise WireRequestError(
                "This model does not support specifying dimensions.", param="dimensions"
            )
        return SimRequest(
            operation="embed",
            model=model,
            input_tokens=tokens,
            inputs=tuple(inputs),
            dimensions=dimensions,
            options={"encoding_format": encoding},
        )

    def default_dimensions(self, model: str) -> int:
        return _DIMENSIONS.get(model, 1536)

    # --- answers ----------------------------------------------------------------------------

    def headers(self, request_id: str) -> Mapping[str, str]:
        return {
            "x-request-id": request_id,
            "openai-version": "2020-10-01",
            "openai-organization": ORGANIZATION,
        }

    @staticmethod
    def _completion_id(reply: SimReply) -> str:
        return "chatcmpl-" + reply.request_id.removeprefix("req_")

    @staticmethod
    def _usage(reply: SimReply) -> dict[str, Any]:
        # OpenAI counts reasoning inside completion_tokens.
        output = reply.output_tokens + reply.reasoning_tokens
        return {
            "prompt_tokens": reply.input_tokens,
            "completion_tokens": output,
            "total_tokens": reply.input_tokens + output,
            # cached_tokens are part of prompt_tokens
            "prompt_tokens_details": {"cached_tokens": reply.cache.read, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": reply.reasoning_tokens,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }

    def success(self, request: SimRequest, reply: SimReply) -> SimResponse:
        if request.operation == "embed":
            return SimResponse(200, compact_json(self._embeddings(request, reply)))
        body = {
            "id": self._completion_id(reply),
            "object": "chat.completion",
            "created": reply.created,
            "model": request.model,
            "choices": [
                {
                    "index": 0,
                    "message": self._message(reply),
                    "logprobs": None,
                    "finish_reason": self._finish(reply),
                }
            ],
            "usage": self._usage(reply),
            "service_tier": "default",
            "system_fingerprint": FINGERPRINT,
        }
        return SimResponse(200, compact_json(body))

    @staticmethod
    def _finish(reply: SimReply) -> str:
        if reply.tool_calls:
            return "tool_calls"
        return "length" if reply.truncated else "stop"

    @staticmethod
    def _message(reply: SimReply) -> dict[str, Any]:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": None if reply.tool_calls else reply.text,
            "refusal": None,
            "annotations": [],
        }
        if reply.tool_calls:
            message["tool_calls"] = tool_calls_json(reply)
        return message

    @staticmethod
    def _embeddings(request: SimRequest, reply: SimReply) -> dict[str, Any]:
        as_base64 = request.options.get("encoding_format") == "base64"
        data = []
        for index, vector in enumerate(reply.vectors):
            embedding: Any = (
                base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
                if as_base64
                else list(vector)
            )
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        return {
            "object": "list",
            "data": data,
            "model": request.model,
            "usage": {"prompt_tokens": reply.input_tokens, "total_tokens": reply.input_tokens},
        }

    def _chunk(
        self, request: SimRequest, reply: SimReply, choices: list[dict[str, Any]]
    ) -> dict[str, Any]:
        chunk: dict[str, Any] = {
            "id": self._completion_id(reply),
            "object": "chat.completion.chunk",
            "created": reply.created,
            "model": request.model,
            "service_tier": "default",
            "system_fingerprint": FINGERPRINT,
            "choices": choices,
        }
        if request.options.get("include_usage"):
            chunk["usage"] = None
        return chunk

    def _delta(
        self, request: SimRequest, reply: SimReply, delta: dict[str, Any], finish: str | None
    ) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return _frame(self._chunk(request, reply, [choice]))

    def stream(self, request: SimRequest, reply: SimReply) -> StreamPlan:
        head = (
            self._delta(
                request,
                reply,
                {"role": "assistant", "content": None if reply.tool_calls else "", "refusal": None},
                None,
            ),
        )
        pieces = tuple(self._delta(request, reply, {"content": p}, None) for p in reply.pieces)
        pieces += tuple(
            self._delta(request, reply, {"tool_calls": fragment}, None)
            for fragment in tool_call_fragments(reply)
        )
        tail = [self._delta(request, reply, {}, self._finish(reply))]
        if request.options.get("include_usage"):
            tail.append(_frame({**self._chunk(request, reply, []), "usage": self._usage(reply)}))
        tail.append(b"data: [DONE]\n\n")
        return StreamPlan(head=head, pieces=pieces, tail=tuple(tail))

    def malformed(
        self, request: SimRequest, reply: SimReply, rng: random.Random
    ) -> SimResponse | StreamPlan:
        if request.stream:
            head = self.stream(request, reply).head
            return StreamPlan(
                head=head, pieces=(b'data: {"id": "chatcmpl-broken", "choices": [{\n\n',), tail=()
            )
        choice = rng.randrange(3)
        if choice == 0:
            whole = self.success(request, reply).body
            return SimResponse(200, whole[: max(1, len(whole) // 3)])  # JSON cut mid-value
        if choice == 1:
            page = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
            return SimResponse(200, page, content_type="text/html")
        shape = (
            {"object": "list", "data": "unavailable"}
            if request.operation == "embed"
            else {
                "object": "chat.completion",
                "choices": [],
            }
        )
        return SimResponse(200, compact_json(shape))  # valid JSON, not the schema

    # --- errors -------------------------------------------------------------------------------

    def error(self, detail: ErrorDetail) -> SimResponse:
        kind = detail.kind
        model = detail.request.model if detail.request is not None else "gpt-4o-mini"
        if kind is ErrorKind.AUTH:
            if "missing" in detail.message:
                message = (
                    "You didn't provide an API key. You need to provide your API key in an"
                    " Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
                )
                return SimResponse(401, _error_body(message, "invalid_request_error"))
            message = (
                "Incorrect API key provided. You can find your API key at"
                " https://platform.openai.com/account/api-keys."
            )
            return SimResponse(
                401, _error_body(message, "invalid_request_error", code="invalid_api_key")
            )
        if kind is ErrorKind.INVALID_REQUEST:
            return SimResponse(
                400, _error_body(detail.message, "invalid_request_error", param=detail.param)
            )
        if kind is ErrorKind.NOT_FOUND:
            return SimResponse(
                404,
                _error_body(
                    f"Invalid URL ({detail.method} {detail.path})", "invalid_request_error"
                ),
            )
        if kind is ErrorKind.RATE_LIMITED:
            return self._rate_limited(detail, model)
        if kind is ErrorKind.TOO_LARGE:
            breach = detail.breach
            limit, requested = (breach.limit, breach.requested) if breach is not None else (0, 0)
            message = (
                f"Request too large for {model} in organization {ORGANIZATION} on tokens per min"
                f" (TPM): Limit {limit}, Requested {requested}. The input or output tokens must be"
                f" reduced in order to run successfully. {_RATE_LIMITS_URL}"
            )
            return SimResponse(429, _error_body(message, "tokens", code="rate_limit_exceeded"))
        if kind is ErrorKind.QUOTA_EXHAUSTED:
            message = (
                "You exceeded your current quota, please check your plan and billing details."
                " For more information on this error, read the docs:"
                " https://platform.openai.com/docs/guides/error-codes/api-errors."
            )
            return SimResponse(
                429, _error_body(message, "insufficient_quota", code="insufficient_quota")
            )
        if kind is ErrorKind.OVERLOADED:
            message = "The engine is currently overloaded, please try again later."
            body = _error_body(message, "service_unavailable_error", code="server_is_overloaded")
            if detail.retry_after is not None and detail.rng.random() < 0.5:
                seconds = f"{math.ceil(detail.retry_after * 1000) / 1000:g}"
                return SimResponse(
                    503, body, headers={"retry-after": seconds}, retry_after=float(seconds)
                )
            return SimResponse(503, body)
        status = detail.rng.choice((500, 502, 503))
        message = {
            500: "The server had an error while processing your request. Sorry about that!",
            502: "Bad gateway.",
            503: "The server is temporarily unable to handle your request.",
        }[status]
        return SimResponse(status, _error_body(message, "server_error"))

    def context_overflow(self, detail: ErrorDetail, window: int) -> SimResponse:
        """A request over the model's window, as api.openai.com refuses it."""
        tokens = detail.request.input_tokens if detail.request is not None else 0
        message = (
            f"This model's maximum context length is {window} tokens. However, your messages"
            f" resulted in {tokens} tokens. Please reduce the length of the messages."
        )
        return SimResponse(
            400,
            _error_body(
                message, "invalid_request_error", param="messages", code=CONTEXT_LENGTH_EXCEEDED
            ),
        )

    def _rate_limited(self, detail: ErrorDetail, model: str) -> SimResponse:
        wait = detail.retry_after if detail.retry_after is not None else 1.0
        breach = detail.breach
        if breach is not None:
            type_ = breach.kind.value
            numbers = f"Limit {breach.limit}, Used {breach.used}, Requested {breach.requested}"
            which = _LIMIT_NAMES[breach.kind]
        else:
            type_ = "tokens"
            numbers = "Limit 30000, Used 29950, Requested 120"
            which = _LIMIT_NAMES[LimitKind.TOKENS]
        message = (
            f"Rate limit reached for {model} in organization {ORGANIZATION} on {which}:"
            f" {numbers}. Please try again in {format_go_duration(wait)}. {_RATE_LIMITS_URL}"
        )
        body = _error_body(message, type_, code="rate_limit_exceeded")
        # The hint forms clients meet: milliseconds, seconds, an HTTP date, or only the text.
        form = detail.rng.randrange(4)
        if form == 0:
            millis = max(1, math.ceil(wait * 1000))
            return SimResponse(
                429, body, headers={"retry-after-ms": str(millis)}, retry_after=millis / 1000
            )
        if form == 1:
            seconds = f"{math.ceil(wait * 1000) / 1000:g}"
            return SimResponse(
                429, body, headers={"retry-after": seconds}, retry_after=float(seconds)
            )
        if form == 2:
            when = math.ceil(detail.now_wall + wait)
            return SimResponse(
                429,
                body,
                headers={"retry-after": formatdate(when, usegmt=True)},
                retry_after=when - detail.now_wall,
            )
        return SimResponse(429, body, retry_after=wait)

    def limit_headers(self, state: LimitState, now_wall: float) -> Mapping[str, str]:
        headers: dict[str, str] = {}
        for kind, window in state.windows().items():
            headers[f"x-ratelimit-limit-{kind.value}"] = str(window.limit)
            headers[f"x-ratelimit-remaining-{kind.value}"] = str(window.remaining)
            headers[f"x-ratelimit-reset-{kind.value}"] = format_go_duration(window.reset)
        return headers
