"""The contract between the simulator and a provider's wire format.

The simulator owns the server, the fault draws, the rate-limit buckets and the content;
a :class:`WireFormat`, registered by the provider's plugin through
``patchwire_register_simulators``, says how that provider spells it: the paths it
serves, how a request body reads, what a success, a stream, an error of each kind and
the rate-limit headers look like. Core never learns a provider's format.
"""

from __future__ import annotations

import enum
import json
import random
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol

import attrs

from patchwire.testing.sim_cache import NO_CACHE_USE, CachePlan, CacheUse
from patchwire.testing.sim_limits import LimitBreach, LimitState

__all__ = [
    "ErrorDetail",
    "ErrorKind",
    "Operation",
    "RichReading",
    "SimReply",
    "SimRequest",
    "SimResponse",
    "SimRoute",
    "SimTool",
    "SimToolCall",
    "StreamPlan",
    "WireFormat",
    "WireRequestError",
    "compact_json",
]

Operation = Literal["chat", "embed"]


@attrs.frozen
class SimRoute:
    """One endpoint: an aiohttp path pattern under the wire's prefix, and what it does.

    ``stream`` None lets the body decide (OpenAI's ``"stream": true``); True or False
    fixes it for endpoints that stream by path (Gemini's ``:streamGenerateContent``).
    """

    path: str
    operation: Operation
    method: str = "POST"
    stream: bool | None = None


@attrs.frozen
class SimTool:
    """A tool offered in a request: its name and the JSON Schema of its arguments."""

    name: str
    schema: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class SimToolCall:
    """A tool call the simulator makes: ``arguments`` is the JSON text it sends.

    ``id`` is neutral (hex digits); each wire dresses it (``call_``, ``toolu_``...).
    """

    id: str
    name: str
    arguments: str


@attrs.frozen
class SimRequest:
    """What the wire format read from a request, in the simulator's terms.

    ``prompt`` is the text the reply is derived from; ``input_tokens`` what the whole
    input counts (messages, their framing, or every embedding input); ``inputs`` the
    embedding inputs; ``options`` anything else the wire format needs to answer.

    Rich requests (all optional): ``tools`` offered; ``tool_choice`` ``"auto"``,
    ``"none"``, ``"required"`` or a tool's name (None: auto when tools are offered);
    ``parallel_tool_calls`` False allows one call; ``after_tool_result`` says the last
    message carries tool results (the model then answers instead of calling again);
    ``output_schema`` asks for a JSON answer valid against it; ``reasoning`` asks for
    reasoning (an effort word or a token budget); ``replayed`` counts the reasoning
    signatures the request sent back (the wire checked each one).
    """

    operation: Operation
    model: str
    prompt: str = ""
    input_tokens: int = 0
    inputs: tuple[str, ...] = ()
    stream: bool = False
    max_tokens: int | None = None
    dimensions: int | None = None
    options: Mapping[str, Any] = attrs.field(factory=dict)
    tools: tuple[SimTool, ...] = ()
    tool_choice: str | None = None
    parallel_tool_calls: bool = True
    after_tool_result: bool = False
    output_schema: Mapping[str, Any] | None = None
    reasoning: str | int | None = None
    replayed: int = 0
    #: assistant turns with tool calls in the conversation, when the wire counts them
    #: (``patchwire.testing.sim_steps.StepScript`` decides each turn by it)
    tool_rounds: int | None = None
    #: the request body's size in bytes; the simulator sets it after ``parse``
    body_size: int = 0
    #: how the prompt may use the provider's prompt cache (None: it does not)
    cache_plan: CachePlan | None = None


class RichReading:
    """What a chat request's rich fields say, as a wire reads them; each wire's reader
    subclasses it with the message texts in its own shape.

    Filled while the wire checks the body: ``tools`` offered, ``tool_choice``,
    ``parallel`` (False: one call at a time), ``after_tool_result``, ``output_schema``,
    ``reasoning``, ``replayed`` (reasoning blocks sent back and checked), ``media``
    (image and document parts, which each wire prices its own way), ``tool_rounds``
    (assistant turns with tool calls) and ``call_texts`` (each earlier call's name and
    arguments, which the model reads again as input). :meth:`chat_request` hands them
    on, so the fields reach the simulator the same way from every wire.
    """

    def __init__(self) -> None:
        self.tools: tuple[SimTool, ...] = ()
        self.tool_choice: str | None = None
        self.parallel = True
        self.after_tool_result = False
        self.output_schema: Mapping[str, Any] | None = None
        self.reasoning: str | int | None = None
        self.replayed = 0
        self.media = 0
        self.tool_rounds = 0
        self.call_texts: list[str] = []

    def chat_request(
        self,
        *,
        model: str,
        prompt: str,
        input_tokens: int,
        stream: bool,
        max_tokens: int | None,
        options: Mapping[str, Any] | None = None,
        cache_plan: CachePlan | None = None,
    ) -> SimRequest:
        """The chat :class:`SimRequest` with these rich fields and what the wire read besides."""
        return SimRequest(
            operation="chat",
            model=model,
            prompt=prompt,
            input_tokens=input_tokens,
            stream=stream,
            max_tokens=max_tokens,
            options=dict(options or {}),
            tools=self.tools,
            tool_choice=self.tool_choice,
            parallel_tool_calls=self.parallel,
            after_tool_result=self.after_tool_result,
            output_schema=self.output_schema,
            reasoning=self.reasoning,
            replayed=self.replayed,
            tool_rounds=self.tool_rounds,
            cache_plan=cache_plan,
        )


@attrs.frozen
class SimReply:
    """The content the simulator computed for a request (the wire format only spells it).

    ``tool_calls`` are the calls the model makes (then ``text`` is empty and the turn
    ends for tool use); ``reasoning`` is the reasoning text (or summary) and
    ``reasoning_tokens`` what it counts (not included in ``output_tokens``: each wire
    adds it where its provider does); ``signature`` an opaque token the wire may attach
    to the reasoning so it can check the replay. ``cache`` is what the prompt read from
    and wrote to the prompt cache (part of ``input_tokens``; each wire reports it where
    its provider does).
    """

    request_id: str
    created: int  # unix seconds
    text: str = ""
    truncated: bool = False  # max_tokens cut the text short
    pieces: tuple[str, ...] = ()  # stream deltas; joined they give ``text``
    input_tokens: int = 0
    output_tokens: int = 0
    vectors: tuple[tuple[float, ...], ...] = ()
    tool_calls: tuple[SimToolCall, ...] = ()
    reasoning: str = ""
    reasoning_tokens: int = 0
    signature: str = ""
    cache: CacheUse = NO_CACHE_USE


@attrs.frozen
class SimResponse:
    """One answer. ``retry_after`` is the wait it asks for, however it is written
    (a header, an HTTP date, the message text), so the journal can record it."""

    status: int
    body: bytes
    headers: Mapping[str, str] = attrs.field(factory=dict)
    content_type: str = "application/json"
    retry_after: float | None = None


@attrs.frozen
class StreamPlan:
    """A stream as frames: ``head`` opens it, one frame per piece of text, ``tail`` closes it.

    The simulator cuts a broken stream after the head and at least one piece, so a
    client always sees some text before the connection drops.
    """

    head: tuple[bytes, ...]
    pieces: tuple[bytes, ...]
    tail: tuple[bytes, ...]
    content_type: str = "text/event-stream"
    headers: Mapping[str, str] = attrs.field(factory=dict)


class ErrorKind(enum.StrEnum):
    AUTH = "auth"  # unknown or missing credential
    INVALID_REQUEST = "invalid_request"  # the body does not parse or breaks the API's rules
    NOT_FOUND = "not_found"  # no such endpoint
    RATE_LIMITED = "rate_limited"  # a limit was hit (enforced or injected)
    TOO_LARGE = "too_large"  # the request alone exceeds a whole limit
    QUOTA_EXHAUSTED = "quota_exhausted"  # out of credit: retrying will not help
    SERVER_ERROR = "server_error"  # 5xx
    OVERLOADED = "overloaded"  # the provider's "busy, come back later"


@attrs.frozen
class ErrorDetail:
    """Everything a wire format needs to spell one error.

    ``rng`` is private to this request (seeded from the simulator's seed), for choices
    such as which 5xx or which Retry-After form. ``retry_after`` is the wait in seconds
    the answer should ask for (None: no hint). ``now_wall`` is the server's wall clock,
    for hints written as HTTP dates. ``message`` is the reason the simulator found: for
    AUTH exactly ``"missing credential"`` or ``"unknown credential"``, for INVALID_REQUEST
    and NOT_FOUND the wire format's own :class:`WireRequestError` text.
    """

    kind: ErrorKind
    rng: random.Random = attrs.field(eq=False, repr=False)
    request_id: str
    now_wall: float
    request: SimRequest | None = None
    message: str = ""
    param: str | None = None
    retry_after: float | None = None
    breach: LimitBreach | None = None
    method: str = "POST"
    path: str = ""


def compact_json(data: Any) -> bytes:
    """``data`` as JSON without spaces, as providers send their bodies and stream frames."""
    return json.dumps(data, separators=(",", ":")).encode()


class WireRequestError(Exception):
    """A request the wire format refuses while reading it (answered as INVALID_REQUEST or NOT_FOUND)."""

    def __init__(
        self, message: str, *, param: str | None = None, kind: ErrorKind = ErrorKind.INVALID_REQUEST
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.kind = kind


class WireFormat(Protocol):
    """A provider's wire format, as the simulator needs it.

    ``name`` is the simulator's name (``patchwire simulate NAME``), ``connector_type`` the
    connector type that speaks it and ``example_model`` a model to put in examples;
    ``prefix`` is the path under which the provider's API lives (``/v1``).
    """

    name: str
    connector_type: str
    prefix: str
    example_model: str
    routes: Sequence[SimRoute]

    def credential(self, headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
        """The API key a request carries, or None."""
        ...

    def parse(self, route: SimRoute, body: bytes, path_params: Mapping[str, str]) -> SimRequest:
        """Read a request; raise :class:`WireRequestError` for one the API would refuse."""
        ...

    def default_dimensions(self, model: str) -> int:
        """The embedding size of ``model`` when the request names none."""
        ...

    def headers(self, request_id: str) -> Mapping[str, str]:
        """Headers every answer carries (request ids, version stamps)."""
        ...

    def success(self, request: SimRequest, reply: SimReply) -> SimResponse:
        """A complete non-streaming answer."""
        ...

    def stream(self, request: SimRequest, reply: SimReply) -> StreamPlan:
        """A complete stream."""
        ...

    def error(self, detail: ErrorDetail) -> SimResponse:
        """An error answer in the provider's shape, with its hint headers."""
        ...

    def malformed(
        self, request: SimRequest, reply: SimReply, rng: random.Random
    ) -> SimResponse | StreamPlan:
        """A 200 that a client cannot use: a body that is not JSON or not the schema
        (a stream plan with such a frame for streaming requests)."""
        ...

    def limit_headers(self, state: LimitState, now_wall: float) -> Mapping[str, str]:
        """The provider's rate-limit headers for the key's current state."""
        ...
