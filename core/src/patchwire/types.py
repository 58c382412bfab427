"""Value types the application sees and connectors produce."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import attrs

__all__ = [
    "CallOptions",
    "Completion",
    "CompletionRequest",
    "Embedding",
    "EmbeddingBatch",
    "EmbeddingRequest",
    "Message",
    "Role",
    "StreamChunk",
    "ToolRequest",
    "ToolResult",
    "Usage",
    "as_messages",
]

Role = Literal["system", "user", "assistant", "tool"]
_ROLES = frozenset({"system", "user", "assistant", "tool"})


def _check_role(_: object, __: attrs.Attribute[str], value: str) -> None:
    if value not in _ROLES:
        raise ValueError(f"message role must be one of {sorted(_ROLES)}, got {value!r}")


@attrs.frozen(slots=True)
class Message:
    role: Role = attrs.field(validator=_check_role)
    content: str


def as_messages(
    prompt: str | Message | Sequence[Message | Mapping[str, str]],
) -> tuple[Message, ...]:
    """Accept a plain prompt, one message, or a list of messages or ``{"role", "content"}`` dicts."""
    if isinstance(prompt, str):
        return (Message("user", prompt),)
    if isinstance(prompt, Message):
        return (prompt,)
    out: list[Message] = []
    for item in prompt:
        if isinstance(item, Message):
            out.append(item)
        elif isinstance(item, Mapping) and "role" in item and "content" in item:
            out.append(Message(item["role"], item["content"]))  # type: ignore[arg-type]
        else:
            raise TypeError(
                f"a message must be a Message or a mapping with 'role' and 'content', got {type(item).__name__}"
            )
    if not out:
        raise ValueError("at least one message is required")
    return tuple(out)


@attrs.frozen(slots=True)
class Usage:
    """Token counts as the provider reported them.

    ``input_tokens`` counts every prompt token, cached ones included;
    ``cached_input_tokens`` and ``cache_creation_input_tokens`` say how many of those were
    read from or written to the provider's prompt cache (priced differently).
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@attrs.frozen(slots=True)
class CallOptions:
    """Per-call options.

    ``priority``: higher is more urgent in the limiter queue. ``timeout``: a deadline in
    seconds for the whole call, retries and fallbacks included. ``cache``: True forces
    caching, False bypasses it, None caches only deterministic requests.
    ``idempotency_key`` is passed to connectors whose providers accept one. ``cache_ttl``:
    seconds a reply cached by this call is served (None: the operation's or connector's
    ttl; 0: not cached); it never serves a reply stored under a longer ttl.
    """

    priority: int = 0
    timeout: float | None = None
    cache: bool | None = None
    idempotency_key: str | None = None
    cache_ttl: float | None = None


def _freeze(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return dict(value or {})


@attrs.frozen(slots=True)
class CompletionRequest:
    """What a connector receives for a completion or stream.

    ``params`` holds the remaining generation parameters by their patchwire names
    (``max_tokens``, ``temperature``, ``top_p``, ``stop``, ``seed``...); a connector maps
    them to its wire names and rejects the ones its API refuses.
    """

    model: str
    messages: tuple[Message, ...]
    params: Mapping[str, Any] = attrs.field(factory=dict, converter=_freeze)
    idempotency_key: str | None = None


@attrs.frozen(slots=True)
class EmbeddingRequest:
    model: str
    inputs: tuple[str, ...]
    params: Mapping[str, Any] = attrs.field(factory=dict, converter=_freeze)


@attrs.frozen(slots=True)
class ToolRequest:
    """A tool call: the operation (a declared operation, an MCP tool, a CLI command) and its arguments."""

    operation: str
    arguments: Mapping[str, Any] = attrs.field(factory=dict, converter=_freeze)
    idempotency_key: str | None = None


@attrs.frozen(slots=True)
class Completion:
    text: str
    usage: Usage = Usage()
    model: str = ""
    connector: str = ""
    finish_reason: str | None = None
    request_id: str | None = None
    cached: bool = False
    attempts: int = 1
    latency: float = 0.0
    cost: float | None = None
    raw: Mapping[str, Any] | None = attrs.field(default=None, eq=False, repr=False)


@attrs.frozen(slots=True)
class StreamChunk:
    """A text delta; the final chunk carries ``usage`` and ``finish_reason`` when known."""

    text: str
    usage: Usage | None = None
    finish_reason: str | None = None


@attrs.frozen(slots=True)
class Embedding:
    vector: tuple[float, ...]
    model: str = ""
    connector: str = ""
    cached: bool = False


@attrs.frozen(slots=True)
class EmbeddingBatch:
    """A connector's answer to one embedding request: one vector per input, in order."""

    vectors: tuple[tuple[float, ...], ...]
    usage: Usage = Usage()
    request_id: str | None = None


@attrs.frozen(slots=True)
class ToolResult:
    """What a tool returned.

    ``output`` is the structured value (parsed JSON, a list of lines, MCP structured
    content); ``text`` the textual form. ``metadata`` holds connector-specific facts
    (HTTP status and final URL, exit code, MCP content blocks).
    """

    output: Any = None
    text: str = ""
    tool: str = ""
    operation: str = ""
    connector: str = ""
    cached: bool = False
    attempts: int = 1
    latency: float = 0.0
    metadata: Mapping[str, Any] = attrs.field(factory=dict, converter=_freeze)
