"""One attempt against the Acme API (the wire is described in ``wire.py``).

``complete``, ``stream`` and ``embed`` each send one request. The connector never
retries, sleeps, limits or caches: patchwire's pipeline does that for every connector.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar

import aiohttp
from patchwire.classification import Classification
from patchwire.connector import Attempt, Capability, Connector, Setting
from patchwire.errorbody import parse_error_body
from patchwire.errors import Category, IntegrationError
from patchwire.http import HttpResponse, open_stream, send
from patchwire.limiter import RateLimitInfo
from patchwire.prices import Price
from patchwire.retry import parse_retry_after
from patchwire.sse import as_one_chunk, iter_sse, read_unstreamed
from patchwire.types import (
    Completion,
    CompletionRequest,
    EmbeddingBatch,
    EmbeddingRequest,
    StreamChunk,
    Usage,
)

_TYPES = {
    "bad_request": Category.INVALID_REQUEST,
    "not_found": Category.INVALID_REQUEST,
    "auth": Category.AUTH,
    "rate_limited": Category.RATE_LIMITED,
    "busy": Category.DEGRADED,
    "no_credit": Category.QUOTA_EXHAUSTED,
}
REQUEST_ID = "x-acme-request"


def limits_of(headers: Mapping[str, str]) -> RateLimitInfo | None:
    """Acme's ``x-acme-{limit,remaining,reset}-{requests,tokens}`` headers, when present."""

    def number(name: str) -> float | None:
        try:
            return float(headers[name])
        except (KeyError, ValueError):
            return None

    info = RateLimitInfo(
        requests_limit=number("x-acme-limit-requests"),
        requests_remaining=number("x-acme-remaining-requests"),
        requests_reset=number("x-acme-reset-requests"),
        tokens_limit=number("x-acme-limit-tokens"),
        tokens_remaining=number("x-acme-remaining-tokens"),
        tokens_reset=number("x-acme-reset-tokens"),
    )
    return None if info == RateLimitInfo() else info


def usage_of(data: Any) -> Usage:
    usage = data["usage"]
    return Usage(input_tokens=int(usage["in"]), output_tokens=int(usage.get("out", 0)))


class AcmeConnector(Connector):
    type_name = "acme"
    version = "0.1.0"
    api_versions = ("v1",)
    capabilities = frozenset({Capability.COMPLETE, Capability.STREAM, Capability.EMBED})
    max_batch_size = 64
    default_api_key = "env:ACME_API_KEY"
    default_auth_scheme = "bearer"
    settings: ClassVar[dict[str, Setting]] = {
        "default_max_tokens": Setting((int,), 256, "max_tokens when the caller gives none"),
    }

    @classmethod
    def prices(cls) -> dict[str, Price]:
        return {"acme-small": Price(0.10, 0.40), "acme-embed": Price(0.02, 0.0)}

    def url(self, path: str) -> str:
        return (self.ctx.config.base_url or "https://api.acme.invalid/v1").rstrip("/") + path

    def body(self, request: CompletionRequest, *, stream: bool = False) -> dict[str, Any]:
        # Built afresh every attempt from the immutable request: attempts send the same body.
        return {
            "model": request.model,
            "prompt": "\n".join(str(m.content) for m in request.messages),
            "max_tokens": request.params.get("max_tokens") or self.setting("default_max_tokens"),
            "stream": stream,
        }

    def report(self, attempt: Attempt, headers: Mapping[str, str]) -> None:
        info = limits_of(headers)
        if info is not None and attempt.report_limits is not None:
            attempt.report_limits(info)

    async def post(self, attempt: Attempt, path: str, body: Any) -> tuple[Any, HttpResponse]:
        response = await send(attempt, "POST", self.url(path), json_body=body)
        self.report(attempt, response.headers)
        return response.json(), response

    async def complete(self, request: CompletionRequest, attempt: Attempt) -> Completion:
        data, response = await self.post(attempt, "/generate", self.body(request))
        return self.completion(data, response, request)

    def completion(
        self, data: Any, response: HttpResponse, request: CompletionRequest
    ) -> Completion:
        try:
            return Completion(
                text=str(data["output"]),
                usage=usage_of(data),
                model=request.model,
                finish_reason=str(data["finish"]),
                request_id=response.headers.get(REQUEST_ID),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise IntegrationError(f"Acme reply lacks {exc}: the API may have changed") from None

    async def stream(
        self, request: CompletionRequest, attempt: Attempt
    ) -> AsyncIterator[StreamChunk]:
        url, body = self.url("/generate"), self.body(request, stream=True)
        async with open_stream(attempt, "POST", url, json_body=body) as response:
            self.report(attempt, response.headers)
            # Servers that ignore "stream": true answer with the whole completion as JSON:
            # it becomes the stream's one chunk (asking again would bill it again); any other
            # content type that is not an event stream is an integration error.
            unstreamed = await read_unstreamed(response)
            if unstreamed is not None:
                yield as_one_chunk(self.completion(unstreamed.json(), unstreamed, request))
                return
            ended = False
            async for event in iter_sse(response):
                if event.event == "end":
                    ended = True
                    break
                try:
                    data = json.loads(event.data)
                except ValueError:
                    raise IntegrationError("Acme stream event is not JSON") from None
                if "delta" in data:
                    yield StreamChunk(text=str(data["delta"]))
                elif "finish" in data:
                    yield StreamChunk("", usage=usage_of(data), finish_reason=str(data["finish"]))
                else:
                    raise IntegrationError("Acme stream event without delta or finish")
        if not ended:
            # A stream cut before its end marker is a failed attempt, never a short answer.
            raise aiohttp.ClientPayloadError("Acme stream ended before its end event")

    async def embed(self, request: EmbeddingRequest, attempt: Attempt) -> EmbeddingBatch:
        body = {"model": request.model, "inputs": list(request.inputs)}
        data, response = await self.post(attempt, "/embed", body)
        try:
            rows = sorted(data["data"], key=lambda row: int(row["index"]))
            vectors = tuple(tuple(float(x) for x in row["vector"]) for row in rows)
            return EmbeddingBatch(
                vectors=vectors, usage=usage_of(data), request_id=response.headers.get(REQUEST_ID)
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise IntegrationError(
                f"Acme embed reply lacks {exc}: the API may have changed"
            ) from None


def classify(error: BaseException, response: Any) -> Classification | None:
    """Acme's body says what went wrong better than the status does."""
    if not isinstance(response, HttpResponse):
        return None
    body = parse_error_body(response.body)
    if body is None or body.type not in _TYPES:
        return None  # core answers from the status (a 408/409/5xx without a known type)
    return Classification(
        _TYPES[body.type],
        body.message,
        retry_after=parse_retry_after(response.headers),
        status=response.status,
        code=body.type,
        request_id=response.headers.get(REQUEST_ID),
    )
