"""One attempt against Anthropic's Messages API: ``POST {base_url}/v1/messages``.

``base_url`` is the server's root as Anthropic's SDK takes it (default
``https://api.anthropic.com``); a URL that already ends in ``/v1``, as the simulator's
``base_url`` and other connectors' do, is taken as it is.

Plain replies and streams of named server-sent events (``message_start``,
``content_block_start``/``delta``/``stop``, ``message_delta`` with cumulative output
tokens, ``message_stop``, ``ping``, and ``error``, which may arrive after HTTP 200). The
connector never retries: patchwire's pipeline does.

Rich calls (content parts, tools, structured output, thinking) are spelled by
``patchwire_anthropic.request`` and read back by ``patchwire_anthropic.reply``; what
each API version can do is stated on the class (``version_capabilities``,
``version_sampling_params``) so the pipeline refuses or drops before sending.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar, Final

from patchwire.config import ConnectorConfig
from patchwire.connector import MEDIA_TOKEN_ESTIMATE, Attempt, Capability, Connector, Setting
from patchwire.errors import IntegrationError, InvalidRequestError, TransientError
from patchwire.http import HttpResponse, HttpStatusError, loads_text, open_stream, send
from patchwire.prices import Price
from patchwire.sse import as_one_chunk, iter_sse, read_unstreamed
from patchwire.tools import ToolArgumentsError
from patchwire.types import (
    Completion,
    CompletionRequest,
    EmbeddingRequest,
    StreamChunk,
    ToolRequest,
    Usage,
)

from patchwire_anthropic.classify import stream_error
from patchwire_anthropic.estimate import media_tokens, tools_tokens
from patchwire_anthropic.prices import PRICES
from patchwire_anthropic.ratelimit import rate_limit_info
from patchwire_anthropic.reply import BlockAssembler, content_parts, finish_reason
from patchwire_anthropic.request import (
    ADAPTIVE_FAMILIES,
    MIN_THINKING_BUDGET,
    THINKING_BUDGETS,
    check_output_tool,
    feature_fields,
    is_adaptive,
    messages_of,
    output_tool_name,
    system_of,
)
from patchwire_anthropic.usage import billing_details, keep_billing_details
from patchwire_anthropic.windows import CONTEXT_WINDOWS

__all__ = ["CURRENT_VERSION", "AnthropicConnector"]

DEFAULT_BASE_URL: Final = "https://api.anthropic.com"
CURRENT_VERSION: Final = "2026-10-21"
LEGACY_VERSION: Final = "2023-06-01"
#: sampling parameters the 2026-10-21 API refuses even at their default values
_SAMPLING: Final = ("temperature", "top_p", "top_k")
_PASSED: Final = frozenset({"metadata", "service_tier"})
_KNOWN: Final = frozenset({"max_tokens", "stop", "user", *_SAMPLING, *_PASSED})
#: what both API versions can do: structured output is native (``output_config``) under
#: 2026-10-21 and a forced answer tool under 2023-06-01, so both claim it
_CAPABILITIES: Final = frozenset(
    {
        Capability.COMPLETE,
        Capability.STREAM,
        Capability.TOOLS,
        Capability.STRUCTURED_OUTPUT,
        Capability.IMAGES,
        Capability.DOCUMENTS,
        Capability.REASONING,
    }
)
#: ``prompt_cache`` values and the ``cache_control`` each puts on a breakpoint
_CACHE_CONTROLS: Final[Mapping[str, Mapping[str, str] | None]] = {
    "off": None,
    "5m": {"type": "ephemeral"},
    "1h": {"type": "ephemeral", "ttl": "1h"},
}
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


def _thinking_tokens(data: Mapping[str, Any]) -> int | None:
    details = data.get("output_tokens_details")
    value = details.get("thinking_tokens") if isinstance(details, Mapping) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def usage_from(data: Any) -> Usage:
    """Anthropic counts cache reads and writes apart from ``input_tokens``; patchwire's
    input is their sum, with the cached part named. ``output_tokens`` already includes
    thinking, which ``output_tokens_details.thinking_tokens`` names where reported."""
    if not isinstance(data, Mapping):
        return Usage()

    def count(name: str) -> int:
        value = data.get(name)
        return value if isinstance(value, int) and value >= 0 else 0

    read, written = count("cache_read_input_tokens"), count("cache_creation_input_tokens")
    thinking = _thinking_tokens(data)
    return Usage(
        input_tokens=count("input_tokens") + read + written,
        output_tokens=count("output_tokens"),
        cached_input_tokens=read,
        cache_creation_input_tokens=written,
        reasoning_tokens=thinking if thinking is not None and thinking >= 0 else 0,
        **billing_details(data),
    )


def _take_counts(counts: dict[str, Any], usage: Any) -> None:
    if isinstance(usage, Mapping):
        for name in _USAGE_COUNTS:
            value = usage.get(name)
            if isinstance(value, int) and not isinstance(value, bool):
                counts[name] = value
        thinking = _thinking_tokens(usage)
        if thinking is not None:
            counts["output_tokens_details"] = {"thinking_tokens": thinking}
        keep_billing_details(counts, usage)


def _mark_cache_breakpoints(body: dict[str, Any], control: Mapping[str, str]) -> None:
    """Breakpoints on the last tool and at the end of the system prompt: the parts that
    repeat from call to call, and that Anthropic reads first (tools, then system), so a
    later call with the same ones reads them from the cache."""
    tools = body.get("tools")
    if tools:
        tools[-1] = {**tools[-1], "cache_control": dict(control)}
    system = body.get("system")
    if isinstance(system, str) and system:
        body["system"] = [{"type": "text", "text": system, "cache_control": dict(control)}]


def _plain(request: CompletionRequest) -> bool:
    """Whether every message is text and none is a tool message (one pass: the text-only
    path stays as cheap as it was)."""
    for message in request.messages:
        if message.content.__class__ is not str or message.role == "tool":
            return False
    return True


class AnthropicConnector(Connector):
    type_name = "anthropic"
    version = "0.1.0"
    api_versions = (CURRENT_VERSION, LEGACY_VERSION)
    capabilities = _CAPABILITIES
    context_windows = CONTEXT_WINDOWS
    version_capabilities: ClassVar[Mapping[str, frozenset[Capability]]] = {
        CURRENT_VERSION: _CAPABILITIES,
        LEGACY_VERSION: _CAPABILITIES,
    }
    #: 2026-10-21 refuses every sampling knob (even at default values): core drops them
    #: with a warning (or refuses them under unsupported_params = "error")
    sampling_params: ClassVar[frozenset[str]] = frozenset()
    version_sampling_params: ClassVar[Mapping[str, frozenset[str]]] = {
        CURRENT_VERSION: frozenset(),
        LEGACY_VERSION: frozenset(_SAMPLING),
    }
    default_api_key = "env:ANTHROPIC_API_KEY"
    default_auth_scheme = "api_key"
    default_auth_settings: ClassVar[Mapping[str, Any]] = {"header": "x-api-key"}
    settings: ClassVar[Mapping[str, Setting]] = {
        "default_max_tokens": Setting(
            (int,), 1024, "max_tokens when the caller gives none (the API requires it)"
        ),
        "beta": Setting((str,), None, "an anthropic-beta header value"),
        "prompt_cache": Setting(
            (str,),
            "off",
            "prompt caching: '5m' or '1h' puts a cache_control breakpoint with that TTL on the"
            " system prompt and on the last tool, so repeated prefixes are read from Anthropic's"
            " cache; 'off' sends none",
        ),
        "adaptive_thinking": Setting(
            (list,),
            list(ADAPTIVE_FAMILIES),
            "model families that refuse budget_tokens: reasoning= goes as adaptive thinking"
            " with output_config.effort (a family's point releases and snapshots included)",
        ),
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
        if config.settings.get("prompt_cache", "off") not in _CACHE_CONTROLS:
            raise config.where.error("prompt_cache", "must be '5m', '1h' or 'off'")
        families = config.settings.get("adaptive_thinking", ())
        if not all(isinstance(f, str) and f for f in families):
            raise config.where.error(
                "adaptive_thinking", "must be a list of model names or family prefixes (strings)"
            )

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
        if not any(m.role in ("user", "assistant", "tool") for m in request.messages):
            raise InvalidRequestError(
                "the Messages API needs at least one user or assistant message",
                connector=self.name,
                model=request.model,
            )
        if not _plain(request):
            # Spelling the messages refuses what the Messages API cannot carry, naming it.
            messages_of(request, self.name)
            system_of(request, self.name)
        if request.output is not None and not self.native_output:
            check_output_tool(request, self.name)
        if (
            request.reasoning
            and not self.adaptive(request.model)
            and self.max_tokens(request) <= MIN_THINKING_BUDGET
        ):
            raise InvalidRequestError(
                f"reasoning needs max_tokens above {MIN_THINKING_BUDGET}: Anthropic's thinking"
                f" budget is at least {MIN_THINKING_BUDGET} tokens and must stay below"
                f" max_tokens (got {self.max_tokens(request)}); raise max_tokens or leave it"
                " unset (the default then adds the budget)",
                connector=self.name,
                model=request.model,
            )

    def is_deterministic(self, request: CompletionRequest | EmbeddingRequest | ToolRequest) -> bool:
        """A ``temperature=0`` that this version cannot send (it is dropped) makes nothing
        deterministic, so such replies are cached only when a call asks (``cache=True``)."""
        if "temperature" not in self.sampling_params_for(self.api_version):
            return False
        return super().is_deterministic(request)

    def adaptive(self, model: str) -> bool:
        """Whether ``model`` takes adaptive thinking only (the ``adaptive_thinking`` setting)."""
        return is_adaptive(model, self.setting("adaptive_thinking") or ())

    @property
    def native_output(self) -> bool:
        """Whether ``output=`` goes as ``output_config.format`` (else as a forced tool)."""
        return self.wire_version != LEGACY_VERSION

    def max_tokens(self, request: CompletionRequest) -> int:
        """The caller's ``max_tokens``; else the default, plus the thinking budget when
        reasoning is on (thinking spends the same budget and must stay below it)."""
        given = request.params.get("max_tokens")
        if given:
            return int(given)
        default = int(self.setting("default_max_tokens"))
        reasoning = request.reasoning
        if reasoning is None or reasoning == 0:
            return default
        budget = THINKING_BUDGETS[reasoning] if isinstance(reasoning, str) else int(reasoning)
        return default + max(budget, MIN_THINKING_BUDGET)

    def estimate_tokens(self, request: CompletionRequest | EmbeddingRequest | ToolRequest) -> int:
        """Anthropic counts a request's whole ``max_tokens`` against the output limit until
        it ends, and every request carries one, so the estimate includes the default too.
        Media and tool definitions count by Anthropic's rules (``patchwire_anthropic.estimate``)."""
        estimate = super().estimate_tokens(request)
        if not isinstance(request, CompletionRequest):
            return estimate
        if not request.params.get("max_tokens"):
            estimate += self.max_tokens(request)
        if request.features is not None or not _plain(request):
            # Anthropic's own rules for media and tools, in place of core's flat rate.
            count, cost = media_tokens(request)
            estimate += cost - count * MEDIA_TOKEN_ESTIMATE + tools_tokens(request)
        return estimate

    def body(self, request: CompletionRequest, *, stream: bool) -> dict[str, Any]:
        params = request.params
        max_tokens = self.max_tokens(request)
        if not _plain(request):
            messages = messages_of(request, self.name)
            system = system_of(request, self.name)
        else:  # the text-only path, as cheap as it was
            messages = [
                {"role": m.role, "content": m.content}
                for m in request.messages
                if m.role in ("user", "assistant")
            ]
            system = "\n\n".join(m.text for m in request.messages if m.role == "system")
        body: dict[str, Any] = {
            "model": request.model,
            "max_tokens": max_tokens,
            "messages": messages,
        }
        if system:
            body["system"] = system
        if request.features is not None:
            body.update(
                feature_fields(
                    request,
                    max_tokens,
                    native_output=self.native_output,
                    adaptive=request.reasoning is not None and self.adaptive(request.model),
                )
            )
        user = params.get("user")
        if user is not None:
            body["metadata"] = {**(params.get("metadata") or {}), "user_id": str(user)}
        stop = params.get("stop")
        if stop:
            body["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
        for name in (*_SAMPLING, *_PASSED):
            if params.get(name) is not None and name not in body:
                body[name] = params[name]
        if stream:
            body["stream"] = True
        control = _CACHE_CONTROLS.get(self.setting("prompt_cache") or "off")
        if control is not None:
            _mark_cache_breakpoints(body, control)
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
        model = data.get("model")
        model = model if isinstance(model, str) and model else request.model
        try:
            text, parts, answered = content_parts(content, model, self._answer_tool(request))
        except ToolArgumentsError as exc:
            exc.request_id = request_id
            raise
        return Completion(
            text=text,
            usage=usage_from(data.get("usage")),
            model=model,
            finish_reason=finish_reason(data.get("stop_reason"), answered),
            request_id=request_id,
            raw=data,
            parts=parts,
        )

    def _answer_tool(self, request: CompletionRequest) -> str | None:
        return output_tool_name(request, self.native_output)

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
            blocks = BlockAssembler(request.model, self._answer_tool(request))
            counts: dict[str, Any] = {}
            stop_reason: str | None = None
            finished = False
            async for event in iter_sse(resp):
                if event.event == "ping":
                    continue
                try:
                    data = loads_text(event.data)
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
                        if isinstance(message.get("model"), str) and message["model"]:
                            blocks = BlockAssembler(message["model"], blocks.answer_tool)
                elif kind in ("content_block_start", "content_block_delta"):
                    got = (
                        blocks.start(data.get("index"), data.get("content_block"))
                        if kind == "content_block_start"
                        else blocks.delta(data.get("index"), data.get("delta"))
                    )
                    if got is not None and (got.text or got.reasoning or got.call):
                        yield StreamChunk(
                            got.text,
                            tool_call_deltas=(got.call,) if got.call else (),
                            reasoning_text=got.reasoning,
                        )
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
            try:
                _, parts = blocks.parts()
            except ToolArgumentsError as exc:
                exc.request_id = request_id
                raise
            yield StreamChunk(
                "",
                usage=usage_from(counts),
                finish_reason=finish_reason(stop_reason, blocks.answered),
                parts=parts,
            )
