"""The small protocol every connector implements.

A connector speaks one wire format or drives one kind of tool, once per attempt. It never
retries, waits, limits or caches: the pipeline wraps it and does all of that the same way
for every connector. A connector raises whatever its transport raises (or a
``PatchwireError`` when it already knows the category); classification hooks turn the
rest into categories.
"""

from __future__ import annotations

import enum
import ssl
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import aiohttp
import attrs

from patchwire.auth.attached import Attached
from patchwire.clock import Clock
from patchwire.errors import InvalidRequestError
from patchwire.events import Event
from patchwire.types import (
    Completion,
    CompletionRequest,
    EmbeddingBatch,
    EmbeddingRequest,
    StreamChunk,
    ToolRequest,
    ToolResult,
)

if TYPE_CHECKING:
    from patchwire.config import ConnectorConfig
    from patchwire.limiter import RateLimitInfo
    from patchwire.prices import Price
    from patchwire.proxy import ProxyRules
    from patchwire.secrets import SecretResolver

__all__ = [
    "Attempt",
    "attempt",
    "Capability",
    "Connector",
    "ConnectorContext",
    "Setting",
    "ToolInfo",
]


class Capability(enum.StrEnum):
    """What a connector can do. The first four are operations; the rest are features of a
    completion request that the pipeline checks before sending (``patchwire.features``)."""

    COMPLETE = "complete"
    STREAM = "stream"
    EMBED = "embed"
    TOOL = "tool"
    #: offer ``tools=``, honour ``tool_choice``/``parallel_tool_calls``, send ToolCall and
    #: ToolResultPart parts, and return ``Completion.tool_calls``
    TOOLS = "tools"
    #: send ``output=`` with the provider's native mechanism
    STRUCTURED_OUTPUT = "structured_output"
    #: send Image parts in user messages
    IMAGES = "images"
    #: send Document (PDF) parts in user messages
    DOCUMENTS = "documents"
    #: send ``reasoning=``, return Reasoning parts and ``usage.reasoning_tokens``, and
    #: replay its own Reasoning parts (a connector drops other providers' Reasoning parts)
    REASONING = "reasoning"


@attrs.frozen
class Setting:
    """A connector-specific configuration key: its type(s), default and meaning."""

    types: tuple[type, ...]
    default: Any = None
    help: str = ""
    secret: bool = False  # a credential reference, never a literal value


@attrs.frozen
class ToolInfo:
    """One operation a tool connector offers (an MCP tool, a declared web operation)."""

    name: str
    description: str = ""
    input_schema: Mapping[str, Any] | None = None
    #: the JSON Schema of its structured result, when the tool declares one (MCP outputSchema)
    output_schema: Mapping[str, Any] | None = None


@attrs.frozen
class ConnectorContext:
    """What the hub hands a connector when it creates it."""

    name: str
    config: ConnectorConfig
    clock: Clock
    session: Callable[[], aiohttp.ClientSession]
    secrets: SecretResolver
    #: send an event to the hub's sinks (e.g. a web connector's 304 revalidation as a cache hit)
    emit: Callable[[Event], None] = lambda event: None
    #: the hub's proxy rule, for a connector with its own HTTP client (``rules.scoped(...)``)
    proxies: ProxyRules | None = None


@attrs.define(slots=True)
class Attempt:
    """One try of one call, as the connector sees it.

    ``headers``/``params`` already carry the credentials the auth layer attached; ``ssl``
    is the TLS context (client certificate, CA bundle) or None for the default.
    ``attached`` records which of them the auth scheme set and the origin they belong to:
    ``patchwire.http`` sends none of it anywhere else.
    ``deadline`` is the instant this attempt must finish by; the pipeline enforces it,
    and a connector that starts a subprocess or a server passes it on.
    """

    number: int
    clock: Clock
    session: aiohttp.ClientSession
    deadline: float | None = None
    headers: dict[str, str] = attrs.field(factory=dict)
    params: dict[str, str] = attrs.field(factory=dict)
    ssl: ssl.SSLContext | None = None
    priority: int = 0
    report_limits: Callable[[RateLimitInfo], None] | None = None
    attached: Attached = attrs.field(factory=Attached)

    def time_left(self) -> float | None:
        if self.deadline is None:
            return None
        return self.deadline - self.clock.now()


_new = object.__new__


def attempt(
    number: int,
    clock: Clock,
    session: aiohttp.ClientSession,
    deadline: float | None,
    headers: dict[str, str],
    params: dict[str, str],
    ssl: ssl.SSLContext | None,
    priority: int,
    report_limits: Callable[[RateLimitInfo], None] | None,
    attached: Attached,
) -> Attempt:
    """``Attempt(number, clock, ...)`` with every field given, in field order: the pipeline
    builds one per attempt (issue 19). Attempt is neither frozen nor validated, so its slots
    take plain stores; this skips only the type call's way into attrs' ``__init__`` and its
    default and factory checks, none of which applies when every field is given."""
    made: Attempt = _new(Attempt)
    made.number = number
    made.clock = clock
    made.session = session
    made.deadline = deadline
    made.headers = headers
    made.params = params
    made.ssl = ssl
    made.priority = priority
    made.report_limits = report_limits
    made.attached = attached
    return made


class Connector:
    """Base class for connectors. Subclasses set the class attributes and override what they support.

    ``settings`` declares the connector-specific keys its ``[connectors.NAME]`` table may
    hold; the configuration loader validates them and rejects any other key.
    """

    type_name: ClassVar[str] = ""
    version: ClassVar[str] = "0"
    api_versions: ClassVar[tuple[str, ...]] = ()
    #: what the connector can do under its default API version
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    #: what it can do under other API versions, where that differs from ``capabilities``
    version_capabilities: ClassVar[Mapping[str, frozenset[Capability]]] = {}
    #: the sampling knobs (``patchwire.features.SAMPLING_PARAMS``) its default API version
    #: sends; the pipeline drops (or refuses, under ``unsupported_params = "error"``) the others
    sampling_params: ClassVar[frozenset[str]] = frozenset(
        {"temperature", "top_p", "top_k", "seed", "presence_penalty", "frequency_penalty"}
    )
    #: the same per API version, where it differs
    version_sampling_params: ClassVar[Mapping[str, frozenset[str]]] = {}
    settings: ClassVar[Mapping[str, Setting]] = {}
    #: most inputs one embedding request may carry (the batcher's limit)
    max_batch_size: ClassVar[int] = 1
    #: context window in tokens per model, for the context-overflow transforms
    #: (``patchwire.transforms``); configuration's ``context_windows`` adds to it
    context_windows: ClassVar[Mapping[str, int]] = {}
    #: the credential reference used when the configuration gives none (e.g. "env:OPENAI_API_KEY")
    default_api_key: ClassVar[str | None] = None
    #: the auth scheme used when the configuration names none but gives ``api_key``
    default_auth_scheme: ClassVar[str] = "bearer"
    default_auth_settings: ClassVar[Mapping[str, Any]] = {}

    def __init__(self, ctx: ConnectorContext) -> None:
        self.ctx = ctx
        self.name = ctx.name
        #: the configured API version, or None for the connector's default
        self.api_version: str | None = ctx.config.api_version
        #: sampling knobs dropped before sending, by name (``unsupported_params = "drop"``)
        self.dropped_params: dict[str, int] = {}

    @classmethod
    def capabilities_for(cls, api_version: str | None) -> frozenset[Capability]:
        """The capabilities under ``api_version`` (None: the default one)."""
        if api_version is None:
            return cls.capabilities
        return cls.version_capabilities.get(api_version, cls.capabilities)

    @classmethod
    def sampling_params_for(cls, api_version: str | None) -> frozenset[str]:
        """The sampling knobs sendable under ``api_version`` (None: the default one)."""
        if api_version is None:
            return cls.sampling_params
        return cls.version_sampling_params.get(api_version, cls.sampling_params)

    def setting(self, key: str) -> Any:
        value = self.ctx.config.settings.get(key)
        if value is None and key in self.settings:
            return self.settings[key].default
        return value

    @classmethod
    def check_config(cls, config: ConnectorConfig) -> None:
        """Validate settings that need more than a type check, when the hub is created.

        Raise ``ConfigError`` naming the key (``config.where.error(key, message)``): a
        missing executable, a malformed URL template, an unreadable schema.
        """

    @classmethod
    def prices(cls) -> Mapping[str, Price]:
        """Prices per model, contributed to the hub's price table."""
        return {}

    async def open(self) -> None:
        """Called once before the first call (start a server process, load a schema...)."""

    async def aclose(self) -> None:
        """Release what ``open`` acquired; called when the hub closes."""

    def _unsupported(self, what: Capability) -> InvalidRequestError:
        have = ", ".join(sorted(c.value for c in self.capabilities)) or "nothing"
        return InvalidRequestError(
            f"connector type '{self.type_name}' does not support {what.value}; it supports: {have}",
            connector=self.name,
        )

    async def complete(self, request: CompletionRequest, attempt: Attempt) -> Completion:
        raise self._unsupported(Capability.COMPLETE)

    def stream(self, request: CompletionRequest, attempt: Attempt) -> AsyncIterator[StreamChunk]:
        raise self._unsupported(Capability.STREAM)

    async def embed(self, request: EmbeddingRequest, attempt: Attempt) -> EmbeddingBatch:
        raise self._unsupported(Capability.EMBED)

    async def call_tool(self, request: ToolRequest, attempt: Attempt) -> ToolResult:
        raise self._unsupported(Capability.TOOL)

    async def list_tools(self, attempt: Attempt) -> Sequence[ToolInfo]:
        raise self._unsupported(Capability.TOOL)

    def validate(self, request: CompletionRequest | EmbeddingRequest | ToolRequest) -> None:
        """Refuse, before anything is sent, a request this connector's API would reject.

        Raise ``InvalidRequestError`` saying why; the call then fails without an attempt.
        """

    def estimate_tokens(self, request: CompletionRequest | EmbeddingRequest | ToolRequest) -> int:
        """Tokens this request will cost, before it is sent (reconciled with usage after).

        The default is about four characters a token plus the requested output budget;
        model connectors refine it (tiktoken when installed).
        """
        if isinstance(request, CompletionRequest):
            chars = sum(_content_chars(m.content) + 4 for m in request.messages)
            out = request.params.get("max_tokens") or 0
            return chars // 4 + 1 + int(out)
        if isinstance(request, EmbeddingRequest):
            return sum(len(t) // 4 + 1 for t in request.inputs)
        return 0

    def limit_key(self, request: CompletionRequest | EmbeddingRequest | ToolRequest) -> str | None:
        """An extra partition for rate limits (the web connector limits per host)."""
        return None

    def timeout_for(
        self, request: CompletionRequest | EmbeddingRequest | ToolRequest
    ) -> float | None:
        """Seconds one attempt of this request may take, when it differs from the connector's.

        A tool connector whose operations differ (a CLI command that runs for minutes, an MCP
        tool with its own ``timeout``) answers from its per-operation settings; None keeps the
        connector's ``timeout`` (``embed_timeout`` for embeddings). The call's own deadline
        still bounds every attempt.
        """
        return None

    def ttl_for(self, request: CompletionRequest | EmbeddingRequest | ToolRequest) -> float | None:
        """Seconds a cached reply to this request is served, when it differs from ``[cache] ttl``.

        Stable data can live longer, dynamic data shorter; None keeps the connector's ttl. A
        call's own ``cache_ttl=`` wins over this; 0 means "do not cache this request".
        """
        return None

    def is_deterministic(self, request: CompletionRequest | EmbeddingRequest | ToolRequest) -> bool:
        """Whether an identical request gives an identical answer, so it may be cached."""
        if isinstance(request, CompletionRequest):
            return request.params.get("temperature") == 0
        return isinstance(request, EmbeddingRequest)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} type={self.type_name!r}>"


#: a documented approximation for media: what an image or a PDF page costs is provider-
#: specific (tiles, pages); connectors that know their rule override ``estimate_tokens``
MEDIA_TOKEN_ESTIMATE = 1_000


def _content_chars(content: object) -> int:
    """Characters a message's content counts for the four-a-token estimate."""
    if isinstance(content, str):
        return len(content)
    from patchwire.parts import Media, Reasoning, Text, ToolCall, ToolResultPart

    total = 0
    for part in content:  # type: ignore[attr-defined]
        if isinstance(part, Text | Reasoning):
            total += len(part.text)
        elif isinstance(part, ToolCall):
            total += len(part.raw_arguments) + len(part.name)
        elif isinstance(part, ToolResultPart):
            total += len(part.text)
        elif isinstance(part, Media):
            total += MEDIA_TOKEN_ESTIMATE * 4
    return total
