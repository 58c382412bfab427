"""One attempt against OpenAI's API or any OpenAI-compatible server (Ollama, vLLM, LM Studio).

``POST {base_url}/chat/completions`` (plain or streamed as server-sent events ending in
``data: [DONE]``) and ``POST {base_url}/embeddings``. The connector speaks the wire
format over the hub's aiohttp session and never retries: patchwire's pipeline does. It
reports the ``x-ratelimit-*`` headers of every answer to the limiter and keeps
``x-request-id`` on replies and errors.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import AsyncIterator, Awaitable, Mapping
from typing import Any, ClassVar, Final

from patchwire.config import ConnectorConfig
from patchwire.config_values import shown
from patchwire.connector import (
    MEDIA_TOKEN_ESTIMATE,
    Attempt,
    Capability,
    Connector,
    ConnectorContext,
    Setting,
)
from patchwire.errors import IntegrationError, InvalidRequestError, TransientError
from patchwire.http import HttpResponse, HttpStatusError, loads_text, open_stream, send
from patchwire.parts import Document, Part, Text
from patchwire.prices import Price, tier_name
from patchwire.sse import as_one_chunk, iter_sse, read_unstreamed
from patchwire.tools import ToolArgumentsError
from patchwire.types import (
    Completion,
    CompletionRequest,
    EmbeddingBatch,
    EmbeddingRequest,
    StreamChunk,
    ToolRequest,
    Usage,
    completion,
    usage,
)

from patchwire_openai.classify import stream_error
from patchwire_openai.estimate import images_tokens
from patchwire_openai.prices import PRICES
from patchwire_openai.ratelimit import rate_limit_info
from patchwire_openai.reply import ToolCallAssembler, finish_reason, message_parts
from patchwire_openai.request import chat_messages, feature_fields, plain_messages, plain_text
from patchwire_openai.tokens import encoding_for
from patchwire_openai.windows import CONTEXT_WINDOWS

__all__ = ["DEFAULT_BASE_URL", "OpenAIConnector"]

DEFAULT_BASE_URL: Final = "https://api.openai.com/v1"
MAX_EMBEDDING_INPUTS: Final = 2048
_ENCODINGS: Final = ("float", "base64")
_MAX_TOKENS_FIELDS: Final = ("max_completion_tokens", "max_tokens")
#: patchwire parameters sent as they are (the API checks their values)
_CHAT_PARAMS: Final = frozenset(
    {
        "temperature",
        "top_p",
        "stop",
        "seed",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "user",
        "response_format",
        "service_tier",
        "reasoning_effort",
        "verbosity",
        "metadata",
        "store",
    }
)
_CHAT_KNOWN: Final = _CHAT_PARAMS | set(_MAX_TOKENS_FIELDS)
_EMBED_PARAMS: Final = frozenset({"dimensions", "encoding_format", "user"})
# Chat framing per message and for the reply's priming, as OpenAI counts prompt tokens.
_TOKENS_PER_MESSAGE: Final = 3
_TOKENS_PER_REPLY: Final = 3


# A reply is parsed by json.loads or orjson, each of which makes every JSON object a dict: checking its parts
# against dict is exact, and several times cheaper than against the Mapping ABC (here and
# in _completion, six checks on every reply).
def _usage(data: Any, tier: Any = None) -> Usage:
    """Usage from ``usage`` (parsed JSON); ``tier`` is the reply's top-level ``service_tier``."""
    if not isinstance(data, dict):
        return Usage()
    # Each count is kept when it is a non-negative int (bool included, as isinstance has
    # it), else 0: the rule written out per count rather than a helper called four times.
    prompt = data.get("prompt_tokens")
    if not (isinstance(prompt, int) and prompt >= 0):
        prompt = 0
    completion = data.get("completion_tokens")
    if not (isinstance(completion, int) and completion >= 0):
        completion = 0
    details = data.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else 0
    if not (isinstance(cached, int) and cached >= 0):
        cached = 0
    details = data.get("completion_tokens_details")
    reasoning = details.get("reasoning_tokens") if isinstance(details, dict) else 0
    if not (isinstance(reasoning, int) and reasoning >= 0):
        reasoning = 0
    # In Usage's field order (tests/test_perf_reply.py holds it): input, output, cached
    # input, cache creation, reasoning, one-hour cache creation, web searches, service
    # tier. core's usage() fills the slots without the frozen class's per-field setattr.
    return usage(prompt, completion, cached, 0, reasoning, 0, 0, tier_name(tier))


class OpenAIConnector(Connector):
    """Connector type ``openai``: chat completions, streams and embeddings."""

    type_name = "openai"
    version = "0.1.0"
    api_versions = ("v1",)
    capabilities = frozenset(
        {
            Capability.COMPLETE,
            Capability.STREAM,
            Capability.EMBED,
            Capability.TOOLS,
            Capability.STRUCTURED_OUTPUT,
            Capability.IMAGES,
            Capability.DOCUMENTS,
            Capability.REASONING,
        }
    )
    # Chat Completions has no top_k: the pipeline drops it (or refuses it under
    # unsupported_params = "error") before sending, as for any knob a wire lacks.
    sampling_params: ClassVar[frozenset[str]] = frozenset(
        {"temperature", "top_p", "seed", "presence_penalty", "frequency_penalty"}
    )
    max_batch_size = MAX_EMBEDDING_INPUTS
    context_windows = CONTEXT_WINDOWS
    default_api_key = "env:OPENAI_API_KEY"
    default_auth_scheme = "bearer"
    settings: ClassVar[dict[str, Setting]] = {
        "organization": Setting((str,), None, "sent as the OpenAI-Organization header"),
        "project": Setting((str,), None, "sent as the OpenAI-Project header"),
        "embedding_dimensions": Setting(
            (int,), None, "size of embedding vectors (text-embedding-3 models and later)"
        ),
        "encoding_format": Setting(
            (str,), "float", "how embeddings travel: 'float' or 'base64' (smaller)"
        ),
        "max_tokens_field": Setting(
            (str,),
            "max_completion_tokens",
            "the body field max_tokens is sent as; 'max_tokens' for servers that only know"
            " the older name",
        ),
    }

    def __init__(self, ctx: ConnectorContext) -> None:
        super().__init__(ctx)
        self.base_url = (ctx.config.base_url or DEFAULT_BASE_URL).rstrip("/")
        headers: dict[str, str] = {}
        if self.setting("organization"):
            headers["OpenAI-Organization"] = self.setting("organization")
        if self.setting("project"):
            headers["OpenAI-Project"] = self.setting("project")
        self._headers = headers
        self._max_tokens_field: str = self.setting("max_tokens_field")

    @classmethod
    def prices(cls) -> Mapping[str, Price]:
        return PRICES

    @classmethod
    def check_config(cls, config: ConnectorConfig) -> None:
        settings = config.settings
        encoding = settings.get("encoding_format")
        if encoding is not None and encoding not in _ENCODINGS:
            raise config.where.error(
                "encoding_format", f"expected 'float' or 'base64', got {shown(encoding)}"
            )
        dimensions = settings.get("embedding_dimensions")
        if dimensions is not None and dimensions < 1:
            raise config.where.error(
                "embedding_dimensions", f"expected a positive integer, got {dimensions}"
            )
        field = settings.get("max_tokens_field")
        if field is not None and field not in _MAX_TOKENS_FIELDS:
            raise config.where.error(
                "max_tokens_field",
                f"expected one of {list(_MAX_TOKENS_FIELDS)}, got {shown(field)}",
            )

    # --- before sending ---------------------------------------------------------------------

    def _invalid(self, message: str) -> InvalidRequestError:
        return InvalidRequestError(message, connector=self.name)

    def validate(self, request: CompletionRequest | EmbeddingRequest | ToolRequest) -> None:
        if isinstance(request, CompletionRequest):
            # Building the messages refuses what Chat Completions cannot carry, naming it;
            # plain text always fits, so the common request is not built here and again
            # in chat_body.
            if not plain_text(request):
                chat_messages(request, self.name)
            if request.output is not None and "response_format" in request.params:
                raise self._invalid("give output= or response_format, not both")
            if not _CHAT_KNOWN.issuperset(request.params):  # no set built when all are known
                unknown = set(request.params) - _CHAT_KNOWN
                raise self._invalid(
                    f"unknown parameter(s) for openai chat completions: {', '.join(sorted(unknown))};"
                    f" known: max_tokens, {', '.join(sorted(_CHAT_PARAMS))}"
                )
            for name in _MAX_TOKENS_FIELDS:
                value = request.params.get(name)
                if value is not None and (not isinstance(value, int) or value < 1):
                    raise self._invalid(f"{name} must be a positive integer, got {value!r}")
        elif isinstance(request, EmbeddingRequest):
            unknown = set(request.params) - _EMBED_PARAMS
            if unknown:
                raise self._invalid(
                    f"unknown parameter(s) for openai embeddings: {', '.join(sorted(unknown))};"
                    f" known: {', '.join(sorted(_EMBED_PARAMS))}"
                )
            if not request.inputs or len(request.inputs) > MAX_EMBEDDING_INPUTS:
                raise self._invalid(
                    f"an embedding request takes 1 to {MAX_EMBEDDING_INPUTS} inputs,"
                    f" got {len(request.inputs)}"
                )
            if any(not text for text in request.inputs):
                raise self._invalid("OpenAI refuses to embed an empty string")
            encoding = request.params.get("encoding_format")
            if encoding is not None and encoding not in _ENCODINGS:
                raise self._invalid(
                    f"encoding_format must be 'float' or 'base64', got {encoding!r}"
                )

    def estimate_tokens(self, request: CompletionRequest | EmbeddingRequest | ToolRequest) -> int:
        if isinstance(request, ToolRequest):
            return 0
        encoding = encoding_for(request.model)
        if encoding is None:
            return super().estimate_tokens(request)
        if isinstance(request, EmbeddingRequest):
            return sum(len(encoding.encode_ordinary(text)) for text in request.inputs)
        prompt = sum(
            len(encoding.encode_ordinary(m.text)) + _TOKENS_PER_MESSAGE for m in request.messages
        )
        # Images by OpenAI's tile rule (estimate.py); documents by core's flat figure.
        prompt += images_tokens(request)[1] + MEDIA_TOKEN_ESTIMATE * sum(
            1
            for m in request.messages
            if not isinstance(m.content, str)
            for p in m.content
            if isinstance(p, Document)
        )
        budget = request.params.get("max_tokens") or request.params.get("max_completion_tokens")
        return prompt + _TOKENS_PER_REPLY + int(budget or 0)

    def chat_body(self, request: CompletionRequest, *, stream: bool) -> dict[str, Any]:
        """The JSON body of a chat completion request."""
        messages = plain_messages(request)
        if messages is None:
            messages = chat_messages(request, self.name)
        body: dict[str, Any] = {"model": request.model, "messages": messages}
        for name, value in request.params.items():
            if value is None:
                continue
            if name in ("max_tokens", "max_completion_tokens"):
                body[self._max_tokens_field] = value
            else:
                body[name] = value
        if request.features is not None:
            body.update(feature_fields(request))
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body

    def embedding_body(self, request: EmbeddingRequest) -> dict[str, Any]:
        """The JSON body of an embeddings request."""
        body: dict[str, Any] = {
            "model": request.model,
            "input": list(request.inputs),
            "encoding_format": request.params.get("encoding_format")
            or self.setting("encoding_format"),
        }
        dimensions = request.params.get("dimensions") or self.setting("embedding_dimensions")
        if dimensions:
            body["dimensions"] = dimensions
        if request.params.get("user"):
            body["user"] = request.params["user"]
        return body

    # --- one attempt ------------------------------------------------------------------------

    def _report(self, attempt: Attempt, headers: Mapping[str, str]) -> None:
        if attempt.report_limits is None:
            return
        info = rate_limit_info(headers)
        if info is not None:
            attempt.report_limits(info)

    def _post(
        self, attempt: Attempt, path: str, body: Mapping[str, Any]
    ) -> Awaitable[HttpResponse]:
        return send(
            attempt,
            "POST",
            self.base_url + path,
            json_body=body,
            headers=self._headers,
            raise_for_status=False,
        )

    def _answered(self, attempt: Attempt, response: HttpResponse) -> HttpResponse:
        """``response`` once its rate-limit headers are reported; an error status raises."""
        self._report(attempt, response.headers)
        if response.status >= 400:
            raise HttpStatusError(response)
        return response

    @staticmethod
    def _malformed(what: str, response: HttpResponse, request_id: str | None) -> IntegrationError:
        return IntegrationError(
            f"the OpenAI reply {what}: the server may not speak the OpenAI API",
            status=response.status,
            request_id=request_id,
        )

    async def complete(self, request: CompletionRequest, attempt: Attempt) -> Completion:
        # _post hands back send's coroutine, awaited here: no coroutine of its own between
        # this one and the request, resumed at every suspension of every call.
        response = await self._post(
            attempt, "/chat/completions", self.chat_body(request, stream=False)
        )
        return self._completion(self._answered(attempt, response), request)

    def _completion(self, response: HttpResponse, request: CompletionRequest) -> Completion:
        """A chat completion body (also what a server that ignores ``stream`` answers with)."""
        request_id = response.headers.get("x-request-id")
        data = response.json()
        choices = data.get("choices") if isinstance(data, dict) else None
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise self._malformed("has no choices", response, request_id)
        message = choices[0].get("message")
        if not isinstance(message, dict):
            raise self._malformed("has no message in its first choice", response, request_id)
        content = message.get("content")
        if content is not None and not isinstance(content, str):
            raise self._malformed("has message content that is not text", response, request_id)
        try:
            text, parts, refused = message_parts(message)
        except ToolArgumentsError as exc:
            exc.request_id = request_id
            raise
        finish = "refusal" if refused else finish_reason(choices[0].get("finish_reason"))
        model = data.get("model")
        # By position in Completion's field order, the defaults written out (connector,
        # cached, attempts, latency, cost, parsed, transforms: the pipeline fills them); the
        # order is held by tests/test_perf_reply.py. core's completion() fills the slots
        # without the frozen class's per-field setattr checks (~10k instructions a reply).
        return completion(
            text,
            _usage(data.get("usage"), data.get("service_tier")),
            model if isinstance(model, str) and model else request.model,
            "",
            finish,
            request_id,
            False,
            1,
            0.0,
            None,
            data,
            parts,
            None,
            (),
        )

    async def stream(
        self, request: CompletionRequest, attempt: Attempt
    ) -> AsyncIterator[StreamChunk]:
        url = self.base_url + "/chat/completions"
        body = self.chat_body(request, stream=True)
        usage: Usage | None = None
        finish: str | None = None
        calls = ToolCallAssembler()
        texts: list[str] = []
        try:
            async with open_stream(
                attempt, "POST", url, json_body=body, headers=self._headers
            ) as resp:
                self._report(attempt, resp.headers)
                unstreamed = await read_unstreamed(resp)
                if unstreamed is not None:
                    yield as_one_chunk(self._completion(unstreamed, request))
                    return
                request_id = resp.headers.get("x-request-id")
                done = False
                async for event in iter_sse(resp):
                    if event.data.strip() == "[DONE]":
                        done = True
                        break
                    try:
                        chunk = loads_text(event.data)
                    except ValueError:
                        raise IntegrationError(
                            f"a stream chunk is not JSON: {event.data[:200]!r}",
                            status=resp.status,
                            request_id=request_id,
                        ) from None
                    if not isinstance(chunk, Mapping):
                        raise IntegrationError(
                            "a stream chunk is not a JSON object",
                            status=resp.status,
                            request_id=request_id,
                        )
                    if "error" in chunk:
                        error = stream_error(chunk, request_id)
                        if error is not None:
                            raise error
                    if isinstance(chunk.get("usage"), Mapping):
                        usage = _usage(chunk["usage"], chunk.get("service_tier"))
                    for choice in chunk.get("choices") or ():
                        if not isinstance(choice, Mapping) or choice.get("index", 0) != 0:
                            continue
                        if isinstance(choice.get("finish_reason"), str):
                            finish = choice["finish_reason"]
                        delta = choice.get("delta")
                        if not isinstance(delta, Mapping):
                            continue
                        text = delta.get("content")
                        deltas = calls.add(delta.get("tool_calls"))
                        if isinstance(text, str) and text:
                            texts.append(text)
                            yield StreamChunk(text, tool_call_deltas=deltas)
                        elif deltas:
                            yield StreamChunk("", tool_call_deltas=deltas)
                if not done and finish is None:
                    raise TransientError(
                        "the stream ended before it finished (no finish_reason, no [DONE])",
                        status=resp.status,
                        request_id=request_id,
                    )
        except HttpStatusError as exc:
            self._report(attempt, exc.response.headers)
            raise
        assembled = calls.calls()
        whole = "".join(texts)
        parts: tuple[Part, ...] = ((Text(whole),) if whole else ()) + assembled if assembled else ()
        yield StreamChunk("", usage=usage, finish_reason=finish_reason(finish), parts=parts)

    async def embed(self, request: EmbeddingRequest, attempt: Attempt) -> EmbeddingBatch:
        response = self._answered(
            attempt, await self._post(attempt, "/embeddings", self.embedding_body(request))
        )
        request_id = response.headers.get("x-request-id")
        data = response.json()
        items = data.get("data") if isinstance(data, Mapping) else None
        if not isinstance(items, list):
            raise self._malformed("has no embedding data", response, request_id)
        if len(items) != len(request.inputs):
            raise self._malformed(
                f"has {len(items)} embeddings for {len(request.inputs)} inputs",
                response,
                request_id,
            )
        vectors: list[tuple[float, ...] | None] = [None] * len(items)
        for position, item in enumerate(items):
            if not isinstance(item, Mapping):
                raise self._malformed(
                    "has an embedding that is not an object", response, request_id
                )
            index = item.get("index", position)
            if (
                not isinstance(index, int)
                or not 0 <= index < len(items)
                or vectors[index] is not None
            ):
                raise self._malformed(f"has a bad embedding index {index!r}", response, request_id)
            vectors[index] = self._vector(item.get("embedding"), response, request_id)
        usage = data.get("usage")
        tokens = usage.get("prompt_tokens") if isinstance(usage, Mapping) else None
        return EmbeddingBatch(
            vectors=tuple(v for v in vectors if v is not None),
            usage=Usage(input_tokens=tokens if isinstance(tokens, int) else 0),
            request_id=request_id,
        )

    def _vector(
        self, value: Any, response: HttpResponse, request_id: str | None
    ) -> tuple[float, ...]:
        if isinstance(value, str):
            try:
                raw = base64.b64decode(value, validate=True)
            except ValueError:
                raise self._malformed(
                    "has an embedding that is not base64", response, request_id
                ) from None
            if len(raw) % 4:
                raise self._malformed(
                    "has a base64 embedding that is not float32 values", response, request_id
                )
            return struct.unpack(f"<{len(raw) // 4}f", raw)
        if isinstance(value, list) and all(
            isinstance(x, int | float) and not isinstance(x, bool) for x in value
        ):
            return tuple(float(x) for x in value)
        raise self._malformed(
            "has an embedding that is neither floats nor base64", response, request_id
        )
