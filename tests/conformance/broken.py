"""Connectors that each break one conformance rule in a way an author plausibly would.

Each is the template's AcmeConnector (which passes the whole suite) with one defect.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from patchwire.classification import Classification
from patchwire.connector import Attempt, Capability
from patchwire.errors import Category, IntegrationError, InvalidRequestError
from patchwire.hookspecs import hookimpl
from patchwire.http import open_stream
from patchwire.types import (
    Completion,
    CompletionRequest,
    EmbeddingBatch,
    EmbeddingRequest,
    StreamChunk,
    Usage,
)
from patchwire_acme import connector as acme
from patchwire_acme.plugin import AcmePlugin

SESSIONS: list[aiohttp.ClientSession] = []


class Broken(acme.AcmeConnector):
    """Base of the fakes (type name ``acme``, so the Acme simulator answers it)."""


def plugin_for(
    connector: type[acme.AcmeConnector], remap: dict[str, Category] | None = None, **attributes: Any
) -> AcmePlugin:
    """The Acme plugin registering ``connector``, its classifier reading ``remap`` first."""

    connector_cls = connector

    class BrokenPlugin(AcmePlugin):
        @hookimpl
        def patchwire_register_connectors(self, register: Any) -> None:
            register("acme", connector)

        @hookimpl
        def patchwire_classify_error(
            self, connector: Any, error: BaseException, response: Any
        ) -> Any:
            found = (_no_hint if connector_cls is DropsHint else acme.classify)(error, response)
            if remap is None:
                return found
            if found is None:
                category = remap.get("*")
                return None if category is None else Classification(category, "any error")
            category = remap.get(found.code or "", found.category)
            return Classification(
                category,
                found.message,
                retry_after=found.retry_after,
                status=found.status,
                code=found.code,
            )

    for name, value in attributes.items():
        setattr(BrokenPlugin, name, value)
    return BrokenPlugin()


class Fails(Broken):
    async def complete(self, request: CompletionRequest, attempt: Attempt) -> Completion:
        await super().complete(request, attempt)
        raise IntegrationError("this connector cannot read its own answers")


class CatchesResets(Broken):
    async def complete(self, request: CompletionRequest, attempt: Attempt) -> Completion:
        try:
            return await super().complete(request, attempt)
        except (aiohttp.ClientError, ConnectionError):
            raise InvalidRequestError("the request broke the connection") from None


class TurnsTimeoutsIntoIntegration(Broken):
    async def complete(self, request: CompletionRequest, attempt: Attempt) -> Completion:
        try:
            return await super().complete(request, attempt)
        except asyncio.CancelledError:
            raise IntegrationError("gave up") from None


class EmptyOnBadBody(Broken):
    async def complete(self, request: CompletionRequest, attempt: Attempt) -> Completion:
        data, _ = await self.post(attempt, "/generate", self.body(request))
        return Completion(text=str(data.get("output", "")), model=request.model)


class PartialOnCutBody(Broken):
    async def complete(self, request: CompletionRequest, attempt: Attempt) -> Completion:
        try:
            return await super().complete(request, attempt)
        except aiohttp.ClientPayloadError:
            return Completion(text="", model=request.model)


class NoEndCheck(Broken):
    async def stream(
        self, request: CompletionRequest, attempt: Attempt
    ) -> AsyncIterator[StreamChunk]:
        try:
            async for chunk in super().stream(request, attempt):
                yield chunk
        except aiohttp.ClientPayloadError:
            return  # a cut stream ends "successfully"


class Shouts(Broken):
    async def complete(self, request: CompletionRequest, attempt: Attempt) -> Completion:
        result = await super().complete(request, attempt)
        return Completion(
            text=result.text.upper(),
            usage=result.usage,
            model=result.model,
            finish_reason=result.finish_reason,
            request_id=result.request_id,
        )


class AlwaysStops(Broken):
    async def complete(self, request: CompletionRequest, attempt: Attempt) -> Completion:
        result = await super().complete(request, attempt)
        return Completion(
            text=result.text, usage=result.usage, finish_reason="stop", request_id=result.request_id
        )


class NoRequestId(Broken):
    async def complete(self, request: CompletionRequest, attempt: Attempt) -> Completion:
        result = await super().complete(request, attempt)
        return Completion(text=result.text, usage=result.usage, finish_reason=result.finish_reason)


class SwappedUsage(Broken):
    async def complete(self, request: CompletionRequest, attempt: Attempt) -> Completion:
        r = await super().complete(request, attempt)
        usage = Usage(input_tokens=r.usage.output_tokens, output_tokens=r.usage.input_tokens)
        return Completion(
            text=r.text, usage=usage, finish_reason=r.finish_reason, request_id=r.request_id
        )


class BytesText(Broken):
    async def complete(self, request: CompletionRequest, attempt: Attempt) -> Completion:
        r = await super().complete(request, attempt)
        return Completion(
            text=r.text.encode(),
            usage=r.usage,  # type: ignore[arg-type]
            finish_reason=r.finish_reason,
            request_id=r.request_id,
        )


class NoFinalUsage(Broken):
    async def stream(
        self, request: CompletionRequest, attempt: Attempt
    ) -> AsyncIterator[StreamChunk]:
        async for chunk in super().stream(request, attempt):
            yield StreamChunk(chunk.text, finish_reason=chunk.finish_reason)


class Reversed(Broken):
    async def embed(self, request: EmbeddingRequest, attempt: Attempt) -> EmbeddingBatch:
        batch = await super().embed(request, attempt)
        return EmbeddingBatch(vectors=batch.vectors[::-1], usage=batch.usage)


class RetriesItself(Broken):
    async def complete(self, request: CompletionRequest, attempt: Attempt) -> Completion:
        try:
            return await super().complete(request, attempt)
        except Exception:
            return await super().complete(request, attempt)


class CountsAttempts(Broken):
    def body(self, request: CompletionRequest, *, stream: bool = False) -> dict[str, Any]:
        self.sent = getattr(self, "sent", 0) + 1
        return {**super().body(request, stream=stream), "attempt": self.sent}


class OwnSession(Broken):
    async def complete(self, request: CompletionRequest, attempt: Attempt) -> Completion:
        if not SESSIONS:
            SESSIONS.append(aiohttp.ClientSession())  # "one session for speed", never closed
        async with SESSIONS[0].post(
            self.url("/generate"), json=self.body(request), headers=attempt.headers
        ) as response:
            data = await response.json()
        return Completion(
            text=data["output"],
            usage=acme.usage_of(data),
            finish_reason=data["finish"],
            request_id=response.headers.get(acme.REQUEST_ID),
        )


class Blocks(Broken):
    async def complete(self, request: CompletionRequest, attempt: Attempt) -> Completion:
        time.sleep(1.0)  # noqa: ASYNC251 - the defect: a blocking call in a coroutine
        return await super().complete(request, attempt)


class LeaksKey(Broken):
    async def complete(self, request: CompletionRequest, attempt: Attempt) -> Completion:
        try:
            return await super().complete(request, attempt)
        except Exception:
            key = attempt.headers.get("Authorization", "").removeprefix("Bearer ")
            self.last_key = key  # kept "for debugging", and shown by repr
            raise

    def __repr__(self) -> str:
        return f"LeaksKey(last_key={getattr(self, 'last_key', None)!r})"


class SwallowsCancel(Broken):
    async def complete(self, request: CompletionRequest, attempt: Attempt) -> Completion:
        try:
            return await super().complete(request, attempt)
        except asyncio.CancelledError:
            return Completion(text="", model=request.model)


class CleansUpSlowly(Broken):
    async def complete(self, request: CompletionRequest, attempt: Attempt) -> Completion:
        try:
            return await super().complete(request, attempt)
        finally:
            await asyncio.shield(asyncio.sleep(2.5))  # "graceful" close that ignores the deadline


class HoldsResponse(Broken):
    async def stream(
        self, request: CompletionRequest, attempt: Attempt
    ) -> AsyncIterator[StreamChunk]:
        context = open_stream(
            attempt, "POST", self.url("/generate"), json_body=self.body(request, stream=True)
        )
        response = await context.__aenter__()  # released only when the stream ends normally
        self.held = (context, response)  # kept for "diagnostics": nothing releases them
        import json

        from patchwire.sse import iter_sse

        async for event in iter_sse(response):
            if event.event == "end":
                break
            data = json.loads(event.data)
            yield StreamChunk(str(data.get("delta", "")))
        await context.__aexit__(None, None, None)


class ClaimsTools(Broken):
    capabilities = frozenset({*acme.AcmeConnector.capabilities, Capability.TOOLS})


class ClaimsStreamLate(Broken):
    capabilities = frozenset({Capability.COMPLETE, Capability.EMBED})

    @classmethod
    def capabilities_for(cls, api_version: str | None) -> frozenset[Capability]:
        return frozenset({*cls.capabilities, Capability.STREAM})


class DropsHint(Broken):
    pass


def _no_hint(error: BaseException, response: Any) -> Classification | None:
    found = acme.classify(error, response)
    if found is None:
        return None
    return Classification(found.category, found.message, status=found.status, code=found.code)


class Abort(BaseException):
    """Not an Exception: nothing in the pipeline classifies it."""


class Aborts(Broken):
    async def complete(self, request: CompletionRequest, attempt: Attempt) -> Completion:
        try:
            return await super().complete(request, attempt)
        except Exception:
            raise Abort("giving up on this provider") from None
