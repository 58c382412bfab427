"""Value types the application sees and connectors produce."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Literal

import attrs

from patchwire.filling import WeaklyReferenced, twin
from patchwire.parts import Part, Reasoning, ToolCall, as_parts, text_of

if TYPE_CHECKING:
    from patchwire.output import OutputSpec
    from patchwire.principals.principal import Principal
    from patchwire.tools import ToolSpec

__all__ = [
    "CallOptions",
    "Completion",
    "CompletionRequest",
    "FINISH_REASONS",
    "Embedding",
    "EmbeddingBatch",
    "EmbeddingRequest",
    "Message",
    "RequestFeatures",
    "Role",
    "StreamChunk",
    "ToolCallDelta",
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


def _content(value: str | Sequence[Part | str]) -> str | tuple[Part, ...]:
    # A string stays a string: the text-only path pays nothing for parts.
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray) or not isinstance(value, Sequence):
        raise TypeError(
            "message content must be a string or a list of strings and parts"
            f" (Image, Document, ...), got {type(value).__name__}"
        )
    return as_parts(value)


@attrs.frozen(slots=True)
class Message:
    """One message. ``content`` is text, or a sequence of parts (``patchwire.parts``).

    ``Message("user", ["What is this?", Image.from_path("cat.png")])``: strings in the
    sequence become ``Text`` parts, so ``content`` is then a tuple of parts. Tool results
    go in a ``user`` (or ``tool``) message as ``ToolResultPart`` values; the model's
    tool calls and reasoning come back in ``Completion.message``.
    """

    role: Role = attrs.field(validator=_check_role)
    content: str | tuple[Part, ...] = attrs.field(converter=_content)

    @property
    def text(self) -> str:
        """The text of the message (its Text parts joined, for part content)."""
        return self.content if isinstance(self.content, str) else text_of(self.content)


_new = object.__new__
_set = object.__setattr__


def user_prompt(text: str) -> tuple[Message, ...]:
    """``(Message("user", text),)`` for an exact ``str``, built without the role check
    and the content converter: "user" passes the one, and the other returns a str as it
    is. The plain prompt is most calls' argument, and those two calls were most of its
    Message's cost."""
    message = _new(Message)
    _set(message, "role", "user")
    _set(message, "content", text)
    return (message,)


def as_messages(
    prompt: str | Message | Sequence[Message | Mapping[str, Any]],
) -> tuple[Message, ...]:
    """Accept a plain prompt, one message, or a list of messages or ``{"role", "content"}`` dicts."""
    if type(prompt) is str:
        return user_prompt(prompt)
    if isinstance(prompt, str):
        return (Message("user", prompt),)
    if isinstance(prompt, Message):
        return (prompt,)
    out: list[Message] = []
    for item in prompt:
        if isinstance(item, Message):
            out.append(item)
        elif isinstance(item, Mapping) and "role" in item and "content" in item:
            out.append(Message(item["role"], item["content"]))
        else:
            raise TypeError(
                f"a message must be a Message or a mapping with 'role' and 'content', got {type(item).__name__}"
            )
    if not out:
        raise ValueError("at least one message is required")
    return tuple(out)


@attrs.frozen(slots=True)
class Usage(WeaklyReferenced):
    """Token counts as the provider reported them.

    ``input_tokens`` counts every prompt token, cached ones included (it is the prompt
    size that context-length price tiers go by); ``cached_input_tokens`` and
    ``cache_creation_input_tokens`` say how many of those were read from or written to
    the provider's prompt cache (priced differently), and
    ``cache_creation_1h_input_tokens`` how many of the written ones were kept for an hour
    rather than five minutes. ``reasoning_tokens`` are part of ``output_tokens``.
    ``web_search_requests`` are searches the provider ran for the call (billed per
    request); ``service_tier`` is the tier the provider says served it ("standard",
    "batch", "flex", "priority"; None when it does not say).
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    reasoning_tokens: int = 0
    cache_creation_1h_input_tokens: int = 0
    web_search_requests: int = 0
    service_tier: str | None = None

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


# A Usage being filled in (see patchwire.filling).
_UsageFilling = twin(Usage)


def usage(
    input_tokens: int,
    output_tokens: int,
    cached_input_tokens: int,
    cache_creation_input_tokens: int,
    reasoning_tokens: int,
    cache_creation_1h_input_tokens: int,
    web_search_requests: int,
    service_tier: str | None,
) -> Usage:
    """``Usage(input_tokens, output_tokens, ...)`` with every field given, in field order,
    without the frozen ``__init__``'s setattr call per field: a connector builds one per
    reply (issue 19)."""
    counts: Any = _UsageFilling()  # its slots are Usage's, which mypy cannot see
    counts.input_tokens = input_tokens
    counts.output_tokens = output_tokens
    counts.cached_input_tokens = cached_input_tokens
    counts.cache_creation_input_tokens = cache_creation_input_tokens
    counts.reasoning_tokens = reasoning_tokens
    counts.cache_creation_1h_input_tokens = cache_creation_1h_input_tokens
    counts.web_search_requests = web_search_requests
    counts.service_tier = service_tier
    counts.__class__ = Usage
    built: Usage = counts
    return built


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
    #: who the call is for (``patchwire.Principal``); None: the hub's service identity
    principal: Principal | None = None


def _freeze(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    # An empty value (most requests' params) is a new empty dict at once: ``value or {}``
    # built one to copy it into another.
    return dict(value) if value else {}


@attrs.frozen(slots=True)
class RequestFeatures:
    """The semantic features of a completion request, already checked and normalised by core.

    - ``tools``: the tools offered (:class:`patchwire.tools.ToolSpec`);
    - ``tool_choice``: ``"auto"``, ``"none"``, ``"required"``, an offered tool's name, or
      None (the provider's default, which is auto when tools are offered);
    - ``parallel_tool_calls``: False allows at most one call per turn; None the default;
    - ``output``: the requested JSON shape (:class:`patchwire.output.OutputSpec`);
    - ``reasoning``: ``"low"``, ``"medium"``, ``"high"``, or a token budget (0 turns
      reasoning off where the provider allows it).
    """

    tools: tuple[ToolSpec, ...] = ()
    tool_choice: str | None = None
    parallel_tool_calls: bool | None = None
    output: OutputSpec | None = None
    reasoning: str | int | None = None


_NO_FEATURES: Final = RequestFeatures()


@attrs.frozen(slots=True)
class CompletionRequest(WeaklyReferenced):
    """What a connector receives for a completion or stream.

    ``params`` holds the sampling parameters by their patchwire names: the portable
    ``max_tokens``, ``temperature``, ``top_p``, ``stop``, ``seed`` and ``user``, and any
    connector-specific extra; a connector maps them to its wire names and rejects the
    ones its API refuses. ``features`` holds the semantic ones (tools, tool choice,
    parallel calls, output, reasoning) as one :class:`RequestFeatures`, None when the call
    asks for none of them, which keeps the text-only request as small as it was; read
    them through the properties ``tools``, ``tool_choice``, ``parallel_tool_calls``,
    ``output`` and ``reasoning``.
    """

    model: str
    messages: tuple[Message, ...]
    params: Mapping[str, Any] = attrs.field(factory=dict, converter=_freeze)
    idempotency_key: str | None = None
    features: RequestFeatures | None = None

    @property
    def tools(self) -> tuple[ToolSpec, ...]:
        return (self.features or _NO_FEATURES).tools

    @property
    def tool_choice(self) -> str | None:
        return (self.features or _NO_FEATURES).tool_choice

    @property
    def parallel_tool_calls(self) -> bool | None:
        return (self.features or _NO_FEATURES).parallel_tool_calls

    @property
    def output(self) -> OutputSpec | None:
        return (self.features or _NO_FEATURES).output

    @property
    def reasoning(self) -> str | int | None:
        return (self.features or _NO_FEATURES).reasoning

    @property
    def has_parts(self) -> bool:
        """Whether any message holds parts rather than plain text."""
        return any(m.content.__class__ is not str for m in self.messages)


# A CompletionRequest being filled in (see patchwire.filling).
_RequestFilling = twin(CompletionRequest)


def completion_request(
    model: str,
    messages: tuple[Message, ...],
    params: Mapping[str, Any] | None,
    idempotency_key: str | None,
    features: RequestFeatures | None,
) -> CompletionRequest:
    """``CompletionRequest(model, messages, params, idempotency_key, features)``, params
    copied as its converter copies them, without the frozen ``__init__``'s setattr calls:
    a call builds one per target it tries (issue 19)."""
    request: Any = _RequestFilling()  # its slots are CompletionRequest's
    request.model = model
    request.messages = messages
    request.params = dict(params) if params else {}  # _freeze, without its frame
    request.idempotency_key = idempotency_key
    request.features = features
    request.__class__ = CompletionRequest
    built: CompletionRequest = request
    return built


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


#: patchwire's own finish reasons; connectors map their provider's words onto these
FINISH_REASONS: Final = frozenset(
    {"stop", "length", "tool_calls", "content_filter", "refusal", "pause", "other"}
)


class _PartViews(WeaklyReferenced):
    """The views of a reply's ``parts`` that a completion and a final stream chunk share."""

    __slots__ = ()
    parts: tuple[Part, ...]

    @property
    def tool_calls(self) -> tuple[ToolCall, ...]:
        return tuple(p for p in self.parts if isinstance(p, ToolCall))

    @property
    def reasoning(self) -> tuple[Reasoning, ...]:
        return tuple(p for p in self.parts if isinstance(p, Reasoning))


@attrs.frozen(slots=True)
class Completion(_PartViews):
    """A reply.

    ``text`` is the visible text. ``parts`` is the whole reply in the provider's order
    (Text, ToolCall, Reasoning), empty when the reply is text only; ``tool_calls`` and
    ``reasoning`` are views of it, and ``message`` is the assistant message to put in
    the next turn's history (it keeps reasoning and signatures for replay). ``parsed``
    is the validated value when ``output=`` was given. ``finish_reason`` is one of
    ``FINISH_REASONS``: ``stop``, ``length`` (the token limit), ``tool_calls``,
    ``content_filter``, ``refusal``, ``pause`` (the provider paused a long turn), ``other``.
    """

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
    parts: tuple[Part, ...] = ()
    parsed: Any = None
    #: the request transforms that ran before this reply came (``fallback``, ``trim``,
    #: ``repair``...), in order; empty when the request went through as sent
    transforms: tuple[str, ...] = ()

    @property
    def message(self) -> Message:
        """This reply as the assistant message of the next turn's history."""
        return Message("assistant", self.parts if self.parts else self.text)


# A Completion being filled in (see patchwire.filling).
_CompletionFilling = twin(Completion)


def completion(
    text: str,
    usage: Usage,
    model: str,
    connector: str,
    finish_reason: str | None,
    request_id: str | None,
    cached: bool,
    attempts: int,
    latency: float,
    cost: float | None,
    raw: Mapping[str, Any] | None,
    parts: tuple[Part, ...],
    parsed: Any,
    transforms: tuple[str, ...],
) -> Completion:
    """``Completion(text, usage, ...)`` with every field given, in field order, built at a
    fraction of the frozen class's cost: the pipeline builds one per call (issue 19)."""
    reply: Any = _CompletionFilling()  # its slots are Completion's, which mypy cannot see
    reply.text = text
    reply.usage = usage
    reply.model = model
    reply.connector = connector
    reply.finish_reason = finish_reason
    reply.request_id = request_id
    reply.cached = cached
    reply.attempts = attempts
    reply.latency = latency
    reply.cost = cost
    reply.raw = raw
    reply.parts = parts
    reply.parsed = parsed
    reply.transforms = transforms
    reply.__class__ = Completion
    built: Completion = reply
    return built


@attrs.frozen(slots=True)
class ToolCallDelta:
    """A fragment of a streamed tool call.

    ``index`` says which call of the turn it belongs to (several may stream at once);
    ``id`` and ``name`` come on a call's first fragment, ``arguments`` is the next piece
    of the argument JSON text (whole for providers that do not split it).
    """

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@attrs.frozen(slots=True)
class StreamChunk(_PartViews):
    """A text delta; the final chunk carries ``usage`` and ``finish_reason`` when known.

    ``tool_call_deltas`` carry tool-call fragments as they arrive and ``reasoning_text``
    a delta of reasoning text or summary. The final chunk also carries the assembled
    ``tool_calls``, the ``reasoning`` parts (with their signatures) and ``parts``, the
    whole turn in order, as :attr:`Completion.parts` would hold it, and, when ``output=``
    was given, ``parsed``: the streamed text validated as for ``complete()``.
    """

    text: str
    usage: Usage | None = None
    finish_reason: str | None = None
    tool_call_deltas: tuple[ToolCallDelta, ...] = ()
    reasoning_text: str = ""
    parts: tuple[Part, ...] = ()
    parsed: Any = None
    #: on the first chunk only: the request transforms that ran before the stream began
    #: (``fallback``, ``trim``), as :attr:`Completion.transforms`
    transforms: tuple[str, ...] = ()


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
