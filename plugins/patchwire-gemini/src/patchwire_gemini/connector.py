"""One attempt against the Gemini API (``generativelanguage.googleapis.com``).

``complete`` posts ``models/NAME:generateContent``; ``stream`` posts
``:streamGenerateContent?alt=sse`` and reads one GenerateContentResponse per event, the
totals in the last; ``embed`` posts ``:embedContent`` for one text and
``:batchEmbedContents`` for a batch the core batcher coalesced. The key travels in the
``x-goog-api-key`` header, never as ``?key=``, which would land in access logs.

Rich calls (parts, tools, output, reasoning) are spelled by ``request_parts`` and
``request_features``; replies are read by ``response`` and a streamed turn is put back
together by ``turn``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Final

import attrs
from patchwire.config_values import shown
from patchwire.connector import (
    MEDIA_TOKEN_ESTIMATE,
    Attempt,
    Capability,
    Connector,
    ConnectorContext,
    Setting,
)
from patchwire.errors import IntegrationError, TransientError
from patchwire.http import HttpResponse, loads_text, open_stream, send
from patchwire.parts import Media, ToolCall, ToolResultPart
from patchwire.sse import as_one_chunk, iter_sse, read_unstreamed
from patchwire.types import (
    Completion,
    CompletionRequest,
    EmbeddingBatch,
    EmbeddingRequest,
    StreamChunk,
    ToolRequest,
    Usage,
)

from patchwire_gemini.media_tokens import media_tokens
from patchwire_gemini.prices import PRICES
from patchwire_gemini.request import (
    MAX_BATCH,
    TASK_TYPES,
    batch_embed_body,
    embed_body,
    generate_body,
    model_url,
)
from patchwire_gemini.response import finish_reason, parse_chunk, usage_from, vectors_from
from patchwire_gemini.turn import TurnAssembler, one_call_only
from patchwire_gemini.windows import CONTEXT_WINDOWS

if TYPE_CHECKING:
    from patchwire.config import ConnectorConfig
    from patchwire.prices import Price

__all__ = ["DEFAULT_HOST", "GeminiConnector"]

DEFAULT_HOST: Final = "https://generativelanguage.googleapis.com"


_RICH: Final = frozenset(
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


class GeminiConnector(Connector):
    """Connector type ``gemini``: text generation, streaming and embeddings, with tools,
    structured output, images and PDFs, and thinking.

    Both API versions carry every capability; they differ in how schemas are spelled:
    ``v1beta`` (the default) sends JSON Schema (``parametersJsonSchema``,
    ``responseJsonSchema``) to 2.5 and later models, ``v1`` and older models get the
    OpenAPI subset (``parameters``, ``responseSchema``). Every sampling knob is sendable
    on both.
    """

    type_name = "gemini"
    version = "0.1.0"
    api_versions = ("v1beta", "v1")
    capabilities = _RICH
    version_capabilities: ClassVar[Mapping[str, frozenset[Capability]]] = {
        "v1beta": _RICH,
        "v1": _RICH,
    }
    max_batch_size = MAX_BATCH
    context_windows = CONTEXT_WINDOWS
    default_api_key = "env:GEMINI_API_KEY"
    default_auth_scheme = "api_key"
    default_auth_settings: ClassVar[Mapping[str, Any]] = {"header": "x-goog-api-key"}
    settings: ClassVar[Mapping[str, Setting]] = {
        "embedding_dimensions": Setting(
            (int,), None, "outputDimensionality of embeddings (default: the model's full size)"
        ),
        "task_type": Setting(
            (str,), None, "embedding taskType, e.g. RETRIEVAL_DOCUMENT or SEMANTIC_SIMILARITY"
        ),
        "thinking_budget": Setting(
            (int,), None, "thinking tokens per reply for thinking models: -1 dynamic, 0 off"
        ),
        "user_project": Setting(
            (str,),
            None,
            "x-goog-user-project header: the project billed when authenticating with user OAuth tokens",
        ),
    }

    def __init__(self, ctx: ConnectorContext) -> None:
        super().__init__(ctx)
        config = ctx.config
        self.base_url = (
            config.base_url or f"{DEFAULT_HOST}/{config.api_version or self.api_versions[0]}"
        ).rstrip("/")
        project = self.setting("user_project")
        self._headers: dict[str, str] = {"x-goog-user-project": project} if project else {}
        budget = self.setting("thinking_budget")
        self._generation_defaults: dict[str, Any] = (
            {} if budget is None else {"thinking_budget": budget}
        )
        self._embed_defaults: dict[str, Any] = {
            key: value
            for key, value in (
                ("dimensions", self.setting("embedding_dimensions")),
                ("task_type", self.setting("task_type")),
            )
            if value is not None
        }

    @classmethod
    def check_config(cls, config: ConnectorConfig) -> None:
        where = config.where
        if config.api_version is not None and config.api_version not in cls.api_versions:
            raise where.error(
                "api_version",
                f"the gemini connector speaks {', '.join(cls.api_versions)}, not {config.api_version!r}",
            )
        task_type = config.settings.get("task_type")
        if task_type is not None and task_type not in TASK_TYPES:
            raise where.error(
                "task_type",
                f"expected one of {', '.join(sorted(TASK_TYPES))}, got {shown(task_type)}",
            )
        dimensions = config.settings.get("embedding_dimensions")
        if dimensions is not None and dimensions < 1:
            raise where.error("embedding_dimensions", f"must be >= 1, got {dimensions}")
        budget = config.settings.get("thinking_budget")
        if budget is not None and budget < -1:
            raise where.error(
                "thinking_budget", f"must be -1 (dynamic), 0 (off) or more, got {budget}"
            )
        if config.batch.max_size is not None and config.batch.max_size > MAX_BATCH:
            raise where.child("batch").error(
                "max_size",
                f"Gemini's batchEmbedContents takes at most {MAX_BATCH} texts,"
                f" got {config.batch.max_size}",
            )
        if config.auth is not None and config.auth.get("query") is not None:
            raise where.child("auth").error(
                "query",
                "the gemini connector does not send its key as a query parameter (URLs end up"
                " in logs); leave 'query' out and the key goes in the x-goog-api-key header",
            )

    @classmethod
    def prices(cls) -> Mapping[str, Price]:
        return PRICES

    def estimate_tokens(self, request: CompletionRequest | EmbeddingRequest | ToolRequest) -> int:
        """Core's estimate, with images and PDFs (tool results' too) counted by Gemini's rule."""
        estimate = super().estimate_tokens(request)
        if not isinstance(request, CompletionRequest) or not request.has_parts:
            return estimate
        for message in request.messages:
            if isinstance(message.content, str):
                continue
            for part in message.content:
                if isinstance(part, Media):
                    # core counted MEDIA_TOKEN_ESTIMATE for it; Gemini's rule replaces that
                    estimate += media_tokens(part) - MEDIA_TOKEN_ESTIMATE
                elif isinstance(part, ToolResultPart) and not isinstance(part.content, str):
                    estimate += sum(media_tokens(m) for m in part.content if isinstance(m, Media))
        return max(estimate, 1)

    def _body(self, request: CompletionRequest) -> dict[str, Any]:
        return generate_body(
            request, self._generation_defaults, api_version=self.api_version, connector=self.name
        )

    def validate(self, request: CompletionRequest | EmbeddingRequest | ToolRequest) -> None:
        if isinstance(request, CompletionRequest):
            self._body(request)
        elif isinstance(request, EmbeddingRequest):
            batch_embed_body(request, self._embed_defaults)

    async def complete(self, request: CompletionRequest, attempt: Attempt) -> Completion:
        body = self._body(request)
        url = model_url(self.base_url, request.model, "generateContent")
        response = await send(attempt, "POST", url, json_body=body, headers=self._headers)
        return self._completion(response, request)

    def _completion(self, response: HttpResponse, request: CompletionRequest) -> Completion:
        """A generateContent body (also what a server that ignores ``alt=sse`` answers with)."""
        data = response.json()
        chunk = parse_chunk(data, model=request.model, connector=self.name)
        if chunk.finish_reason is None and not chunk.text and not chunk.parts:
            raise IntegrationError(
                "Gemini's reply has no candidate and no block reason",
                connector=self.name,
                model=request.model,
                status=response.status,
            )
        parts = one_call_only(chunk.parts) if request.parallel_tool_calls is False else chunk.parts
        calls = any(isinstance(p, ToolCall) for p in parts)
        return Completion(
            text=chunk.text,
            usage=chunk.usage or Usage(),
            model=request.model,
            finish_reason=finish_reason(chunk.finish_reason, calls),
            request_id=chunk.response_id,
            raw=data,
            parts=parts,
        )

    async def stream(
        self, request: CompletionRequest, attempt: Attempt
    ) -> AsyncIterator[StreamChunk]:
        body = self._body(request)
        url = model_url(self.base_url, request.model, "streamGenerateContent")
        async with open_stream(
            attempt, "POST", url, json_body=body, headers=self._headers, params={"alt": "sse"}
        ) as response:
            unstreamed = await read_unstreamed(response)
            if unstreamed is not None:
                yield as_one_chunk(self._completion(unstreamed, request))
                return
            finished = False
            usage: Usage | None = None
            turn = TurnAssembler(single_call=request.parallel_tool_calls is False)
            async for event in iter_sse(response):
                try:
                    data = loads_text(event.data)
                except ValueError:
                    raise IntegrationError(
                        f"a Gemini stream event is not JSON ({len(event.data)} characters)",
                        connector=self.name,
                        model=request.model,
                    ) from None
                chunk = parse_chunk(
                    data, model=request.model, connector=self.name, call_offset=turn.calls
                )
                if chunk.usage is not None:
                    usage = chunk.usage
                piece = turn.add(chunk)
                if chunk.finish_reason is not None and not finished:
                    finished = True
                    parts = turn.parts()
                    calls = any(isinstance(p, ToolCall) for p in parts)
                    yield attrs.evolve(
                        piece,
                        usage=usage,
                        finish_reason=finish_reason(chunk.finish_reason, calls),
                        parts=parts,
                    )
                elif piece.text or piece.tool_call_deltas or piece.reasoning_text:
                    yield piece
                elif finished and chunk.usage is not None:
                    yield StreamChunk("", usage=chunk.usage)
        if not finished:
            # Gemini's last event always names a finish reason; without it the answer is cut.
            raise TransientError(
                "Gemini's stream ended before its final event",
                connector=self.name,
                model=request.model,
            )

    async def embed(self, request: EmbeddingRequest, attempt: Attempt) -> EmbeddingBatch:
        batch = len(request.inputs) > 1
        if batch:
            body = batch_embed_body(request, self._embed_defaults)
        else:
            body = embed_body(request, request.inputs[0], self._embed_defaults)
        method = "batchEmbedContents" if batch else "embedContent"
        url = model_url(self.base_url, request.model, method)
        response = await send(attempt, "POST", url, json_body=body, headers=self._headers)
        data = response.json()
        try:
            vectors = vectors_from(data, len(request.inputs), batch=batch)
            usage = usage_from(data.get("usageMetadata"))
        except IntegrationError as exc:
            exc.connector, exc.model = self.name, request.model
            exc.message = f"unexpected Gemini {method} reply: {exc.message}"
            raise
        # Gemini's embedding replies carry no usage: an estimate keeps tokens and cost
        # in the metrics approximately right instead of zero.
        return EmbeddingBatch(vectors, usage or Usage(input_tokens=self.estimate_tokens(request)))
