"""One attempt against Anthropic's Messages API: ``POST {base_url}/v1/messages``.

``base_url`` is the server's root as Anthropic's SDK takes it (default
``https://api.anthropic.com``); a URL that already ends in ``/v1``, as the simulator's
``base_url`` and other connectors' do, is taken as it is.

Plain replies and streams of named server-sent events (``message_start``,
``content_block_delta``, ``message_delta`` with cumulative output tokens, ``message_stop``,
``ping``, and ``error``, which may arrive after HTTP 200). The connector never retries:
patchwire's pipeline does.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar, Final

from patchwire.config import ConnectorConfig
from patchwire.connector import Attempt, Capability, Connector, Setting
from patchwire.errors import IntegrationError, InvalidRequestError, TransientError
from patchwire.http import HttpResponse, HttpStatusError, open_stream, send
from patchwire.prices import Price
from patchwire.sse import as_one_chunk, iter_sse, read_unstreamed
from patchwire.types import (
    Completion,
    CompletionRequest,
    EmbeddingRequest,
    StreamChunk,
    ToolRequest,
    Usage,
)

from patchwire_anthropic.classify import stream_error
from patchwire_anthropic.prices import PRICES
from patchwire_anthropic.ratelimit import rate_limit_info

__all__ = ["CURRENT_VERSION", "AnthropicConnector"]

DEFAULT_BASE_URL: Final = "https://api.anthropic.com"
CURRENT_VERSION: Final = "2026-10-21"
LEGACY_VERSION: Final = "2023-06-01"
#: sampling parameters the 2026-10-21 API refuses even at their default values
_SAMPLING: Final = ("temperature", "top_p", "top_k")
_PASSED: Final = frozenset({"metadata", "service_tier"})
_KNOWN: Final = frozenset({"max_tokens", "stop", *_SAMPLING, *_PASSED})
_USAGE_COUNTS: Final = (
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
)


def messages_url(base_url: str | None) -> str:
    """``{root}/v1/messages`` for a root URL or for one that already names ``/v1``."""
    base = (base_url or DEFAULT_BASE_URL).rstrip("/")
    if not base.endswith("/v1"):
        base += "/v1"
    return base + "/messages"


def usage_from(data: Any) -> Usage:
    """Anthropic counts cache reads and writes apart from ``input_tokens``; patchwire's
    input is their sum, with the cached part named."""
    if not isinstance(data, Mapping):
        return Usage()

    def count(name: str) -> int:
        value = data.get(name)
        return value if isinstance(value, int) and value >= 0 else 0

    read, written = count("cache_read_input_tokens"), count("cache_creation_input_tokens")
    return Usage(
        input_tokens=count("input_tokens") + read + written,
        output_tokens=count("output_tokens"),
        cached_input_tokens=read,
        cache_creation_input_tokens=written,
    )


def _take_counts(counts: dict[str, int], usage: Any) -> None:
    if isinstance(usage, Mapping):
        for name in _USAGE_COUNTS:
            value = usage.get(name)
            if isinstance(value, int) and not isinstance(value, bool):
                counts[name] = value


class AnthropicConnector(Connector):
    type_name = "anthropic"
    version = "0.1.0"
    api_versions = (CURRENT_VERSION, LEGACY_VERSION)
    capabilities = frozenset({Capability.COMPLETE, Capability.STREAM})
    default_api_key = "env:ANTHROPIC_API_KEY"
    default_auth_scheme = "api_key"
    default_auth_settings: ClassVar[Mapping[str, Any]] = {"header": "x-api-key"}
    settings: ClassVar[Mapping[str, Setting]] = {
        "default_max_tokens": Setting(
            (int,), 1024, "max_tokens when the caller gives none (the API requires it)"
        ),
        "beta": Setting((str,), None, "an anthropic-beta header value"),
    }

    @classmethod
    def prices(cls) -> Mapping[str, Price]:
        return PRICES

    @classmethod
    def check_config(cls, config: ConnectorConfig) -> None:
        version = config.api_version
        if version is not None and version not in cls.api_versions:
            raise config.where.error(
                "api_version",
                f"anthropic-version {version!r} is not one this connector speaks;"
                f" use one of {', '.join(cls.api_versions)}",
            )
        if config.settings.get("default_max_tokens", 1) < 1:
            raise config.where.error("default_max_tokens", "must be at least 1")

    @property
    def wire_version(self) -> str:
        """The ``anthropic-version`` sent: the configured one, else the current one.

        (``api_version`` is core's attribute: the configured version, None for the default.)
        """
        return self.api_version or CURRENT_VERSION

    @property
    def url(self) -> str:
        return messages_url(self.ctx.config.base_url)

    def _headers(self) -> dict[str, str]:
        headers = {"anthropic-version": self.wire_version, "content-type": "application/json"}
        beta = self.setting("beta")
        if beta:
            headers["anthropic-beta"] = beta
        return headers

    def validate(self, request: CompletionRequest | EmbeddingRequest | ToolRequest) -> None:
        if not isinstance(request, CompletionRequest):
            return
        unknown = sorted(set(request.params) - _KNOWN)
        if unknown:
            raise InvalidRequestError(
                f"parameters not supported by the Anthropic connector: {', '.join(unknown)};"
                f" supported: {', '.join(sorted(_KNOWN))}",
                connector=self.name,
                model=request.model,
            )
        sampling = [p for p in _SAMPLING if request.params.get(p) is not None]
        if sampling and self.wire_version != LEGACY_VERSION:
            raise InvalidRequestError(
                f"anthropic-version {self.wire_version} refuses {', '.join(sampling)} (even at"
                f' default values); remove them, or pin api_version = "{LEGACY_VERSION}"',
                connector=self.name,
                model=request.model,
            )
        if not any(m.role in ("user", "assistant") for m in request.messages):
            raise InvalidRequestError(
                "the Messages API needs at least one user or assistant message",
                connector=self.name,
                model=request.model,
            )
        if any(m.role == "tool" for m in request.messages):
            raise InvalidRequestError(
                "tool messages are not supported by the Anthropic connector",
                connector=self.name,
                model=request.model,
            )

    def max_tokens(self, request: CompletionRequest) -> int:
        return int(request.params.get("max_tokens") or self.setting("default_max_tokens"))

    def estimate_tokens(self, request: CompletionRequest | EmbeddingRequest | ToolRequest) -> int:
        """Anthropic counts a request's whole ``max_tokens`` against the output limit until
        it ends, and every request carries one, so the estimate includes the default too."""
        estimate = super().estimate_tokens(request)
        if isinstance(request, CompletionRequest) and not request.params.get("max_tokens"):
            estimate += self.max_tokens(request)
        return estimate

    def body(self, request: CompletionRequest, *, stream: bool) -> dict[str, Any]:
        params = request.params
        system = "\n\n".join(m.content for m in request.messages if m.role == "system")
        body: dict[str, Any] = {
            "model": request.model,
            "max_tokens": self.max_tokens(request),
            "messages": [
                {"role": m.role, "content": m.content}
                for m in request.messages
                if m.role in ("user", "assistant")
            ],
        }
        if system:
            body["system"] = system
        stop = params.get("stop")
        if stop:
            body["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
        for name in (*_SAMPLING, *_PASSED):
            if params.get(name) is not None:
                body[name] = params[name]
        if stream:
            body["stream"] = True
        return body

    def _report(self, attempt: Attempt, headers: Mapping[str, str]) -> None:
        if attempt.report_limits is None:
            return
        info = rate_limit_info(headers)
        if info is not None:
            attempt.report_limits(info)

    @staticmethod
    def _malformed(what: str, response: HttpResponse, request_id: str | None) -> IntegrationError:
        return IntegrationError(
            f"the Anthropic reply {what}: the server may not speak the Messages API",
            status=response.status,
            request_id=request_id,
        )

    async def complete(self, request: CompletionRequest, attempt: Attempt) -> Completion:
        response = await send(
            attempt,
            "POST",
            self.url,
            json_body=self.body(request, stream=False),
            headers=self._headers(),
            raise_for_status=False,
        )
        self._report(attempt, response.headers)
        if response.status >= 400:
            raise HttpStatusError(response)
        return self._completion(response, request)

    def _completion(self, response: HttpResponse, request: CompletionRequest) -> Completion:
        """A Messages API body (also what a server that ignores ``stream`` answers with)."""
        request_id = response.headers.get("request-id")
        data = response.json()
        if not isinstance(data, Mapping) or data.get("type") != "message":
            raise self._malformed("is not a message", response, request_id)
        content = data.get("content")
        if not isinstance(content, list):
            raise self._malformed("has no content list", response, request_id)
        text = "".join(
            block["text"]
            for block in content
            if isinstance(block, Mapping)
            and block.get("type") == "text"
            and isinstance(block.get("text"), str)
        )
        model = data.get("model")
        stop = data.get("stop_reason")
        return Completion(
            text=text,
            usage=usage_from(data.get("usage")),
            model=model if isinstance(model, str) and model else request.model,
            finish_reason=stop if isinstance(stop, str) else None,
            request_id=request_id,
            raw=data,
        )

    async def stream(
        self, request: CompletionRequest, attempt: Attempt
    ) -> AsyncIterator[StreamChunk]:
        async with open_stream(
            attempt,
            "POST",
            self.url,
            json_body=self.body(request, stream=True),
            headers=self._headers(),
        ) as resp:
            self._report(attempt, resp.headers)
            unstreamed = await read_unstreamed(resp)
            if unstreamed is not None:
                yield as_one_chunk(self._completion(unstreamed, request))
                return
            request_id = resp.headers.get("request-id")
            counts: dict[str, int] = {}
            stop_reason: str | None = None
            finished = False
            async for event in iter_sse(resp):
                if event.event == "ping":
                    continue
                try:
                    data = json.loads(event.data)
                except ValueError:
                    raise IntegrationError(
                        f"a stream event is not JSON: {event.data[:200]!r}", request_id=request_id
                    ) from None
                kind = event.event or (data.get("type") if isinstance(data, Mapping) else None)
                if kind == "error":
                    raise stream_error(data, request_id)
                if not isinstance(data, Mapping):
                    raise IntegrationError(
                        "a stream event is not a JSON object", request_id=request_id
                    )
                if kind == "message_start":
                    message = data.get("message")
                    if isinstance(message, Mapping):
                        _take_counts(counts, message.get("usage"))
                elif kind == "content_block_delta":
                    delta = data.get("delta")
                    if isinstance(delta, Mapping) and delta.get("type") == "text_delta":
                        text = delta.get("text")
                        if isinstance(text, str) and text:
                            yield StreamChunk(text)
                elif kind == "message_delta":
                    # message_delta's counts are cumulative: keep the latest, never add.
                    _take_counts(counts, data.get("usage"))
                    delta = data.get("delta")
                    if isinstance(delta, Mapping) and isinstance(delta.get("stop_reason"), str):
                        stop_reason = delta["stop_reason"]
                elif kind == "message_stop":
                    finished = True
                    break
            if not finished:
                raise TransientError(
                    "the stream ended without message_stop: the answer may be incomplete",
                    request_id=request_id,
                )
            yield StreamChunk("", usage=usage_from(counts), finish_reason=stop_reason)
