"""The semantic features of a completion call, read from ``complete()``'s keywords and
checked against what a connector can send before anything is sent.

:func:`split_features` takes ``tools``, ``tool_choice``, ``parallel_tool_calls``,
``output`` and ``reasoning`` out of the keyword parameters and normalises them into the
fields of :class:`~patchwire.types.CompletionRequest`; the rest stay ``params``.

:func:`check_request` runs once per target before the first attempt:

- a semantic feature the connector lacks for its API version (tools, structured
  output, image or document parts, reasoning) is an ``InvalidRequestError`` naming the
  capability and the connector;
- a sampling knob it cannot send (``temperature``, ``top_p``, ``seed``, penalties) is
  dropped with a ``param_dropped`` event and a count on the connector
  (``Connector.dropped_params``) under ``unsupported_params = "drop"``, the default, or
  refused under ``"error"``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any, Final

import attrs

from patchwire.connector import Capability
from patchwire.errors import InvalidRequestError
from patchwire.parts import Document, Image, Reasoning, Text, ToolCall, ToolResultPart, text_of
from patchwire.types import Completion, CompletionRequest, Message, RequestFeatures, StreamChunk

if TYPE_CHECKING:
    from patchwire.connector import Connector
    from patchwire.output import OutputSpec

__all__ = [
    "FEATURE_KEYS",
    "REASONING_EFFORTS",
    "SAMPLING_PARAMS",
    "check_reasoning",
    "check_request",
    "finish_output",
    "parse_stream",
    "needed_capabilities",
    "split_features",
]

FEATURE_KEYS: Final = frozenset(
    {"tools", "tool_choice", "parallel_tool_calls", "output", "reasoning"}
)
REASONING_EFFORTS: Final = ("low", "medium", "high")
#: knobs a connector may drop (with a warning) when its API version cannot send them
SAMPLING_PARAMS: Final = frozenset(
    {"temperature", "top_p", "top_k", "seed", "presence_penalty", "frequency_penalty"}
)


def check_reasoning(value: Any) -> str | int | None:
    if value is None:
        return None
    if isinstance(value, str) and value in REASONING_EFFORTS:
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise ValueError(
        f"reasoning must be 'low', 'medium', 'high' or a token budget (an int >= 0), got {value!r}"
    )


def split_features(params: dict[str, Any]) -> tuple[dict[str, Any], RequestFeatures | None]:
    """(sampling params, the request's features or None).

    A bad value is an ``InvalidArgument`` (an ``InvalidRequestError`` that is also a
    ``TypeError``/``ValueError``, as for every argument of ``complete()``) naming the keyword.
    """
    if FEATURE_KEYS.isdisjoint(params):
        return params, None
    from patchwire.arguments import InvalidArgument

    try:
        features = _features(params)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, InvalidArgument):
            raise
        raise InvalidArgument(str(exc)) from None
    rest = {k: v for k, v in params.items() if k not in FEATURE_KEYS}
    return rest, None if features == RequestFeatures() else features


def _features(params: Mapping[str, Any]) -> RequestFeatures:
    from patchwire.output import as_output
    from patchwire.tools import as_tool_specs, check_tool_choice

    tools = as_tool_specs(params["tools"]) if params.get("tools") is not None else ()
    choice = params.get("tool_choice")
    check_tool_choice(choice, tools)
    parallel = params.get("parallel_tool_calls")
    if parallel is not None and not isinstance(parallel, bool):
        raise TypeError(f"parallel_tool_calls must be True or False, got {parallel!r}")
    output = params.get("output")
    return RequestFeatures(
        tools=tools,
        tool_choice=choice,
        parallel_tool_calls=parallel,
        output=None if output is None else as_output(output),
        reasoning=check_reasoning(params.get("reasoning")),
    )


def needed_capabilities(request: CompletionRequest) -> list[tuple[Capability, str]]:
    """Each semantic capability the request needs, with the thing in it that needs it."""
    needed: list[tuple[Capability, str]] = []
    if request.tools or request.tool_choice not in (None, "none"):
        needed.append((Capability.TOOLS, "tools="))
    if request.output is not None:
        needed.append((Capability.STRUCTURED_OUTPUT, "output="))
    if request.reasoning is not None:
        needed.append((Capability.REASONING, "reasoning="))
    seen: set[Capability] = set()
    for index, message in enumerate(request.messages):
        if isinstance(message.content, str):
            continue
        for part in message.content:
            cap = _PART_CAPS.get(type(part))
            if cap is not None and cap not in seen:
                seen.add(cap)
                needed.append((cap, f"a {type(part).__name__} part in message {index}"))
    return needed


_PART_CAPS: Final[dict[type, Capability]] = {
    Image: Capability.IMAGES,
    Document: Capability.DOCUMENTS,
    ToolCall: Capability.TOOLS,
    ToolResultPart: Capability.TOOLS,
    # Reasoning parts are history: a connector that cannot replay them drops them.
}


_PART_KINDS: Final = frozenset(
    {Capability.TOOLS, Capability.IMAGES, Capability.DOCUMENTS, Capability.REASONING}
)


def _fit_parts(messages: tuple[Message, ...], have: frozenset[Capability]) -> tuple[Message, ...]:
    """History a connector can take: without Reasoning parts when it cannot replay them,
    and as plain text when it takes no parts at all and only Text parts remain."""
    keep_reasoning = Capability.REASONING in have
    flatten = not (_PART_KINDS & have)
    out: list[Message] = []
    changed = False
    for message in messages:
        content = message.content
        if isinstance(content, str):
            out.append(message)
            continue
        parts = (
            content if keep_reasoning else tuple(p for p in content if not isinstance(p, Reasoning))
        )
        if flatten and all(isinstance(p, Text) for p in parts):
            out.append(Message(message.role, text_of(parts)))
            changed = True
        elif parts is not content:
            out.append(Message(message.role, parts))
            changed = changed or len(parts) != len(content)
        else:
            out.append(message)
    return tuple(out) if changed else messages


def check_request(
    connector: Connector, request: CompletionRequest, policy: str = "drop"
) -> tuple[CompletionRequest, tuple[str, ...]]:
    """The request this connector may send, and the knobs dropped from it.

    Refuses missing capabilities; drops (``policy="drop"``, counted in
    ``connector.dropped_params``) or refuses (``"error"``) sampling knobs it cannot send.
    The text-only request without knobs costs two attribute reads and a loop over messages.
    """
    rich = request.features is not None
    if not rich:
        for message in request.messages:
            if message.content.__class__ is not str:
                rich = True
                break
    version = connector.api_version
    if rich:
        have = connector.capabilities_for(version)
        for capability, what in needed_capabilities(request):
            if capability not in have:
                raise InvalidRequestError(
                    f"{what} needs the '{capability.value}' capability, which connector"
                    f" type '{connector.type_name}' (API version {version or 'default'})"
                    f" does not have; it has: {', '.join(sorted(c.value for c in have))}",
                    connector=connector.name,
                    model=request.model,
                )
        messages = _fit_parts(request.messages, have)
        if messages is not request.messages:
            request = attrs.evolve(request, messages=messages)
    if not request.params or SAMPLING_PARAMS.isdisjoint(request.params):
        return request, ()
    unsupported = SAMPLING_PARAMS.intersection(request.params) - connector.sampling_params_for(
        version
    )
    if not unsupported:
        return request, ()
    if policy == "error":
        raise InvalidRequestError(
            f"connector type '{connector.type_name}' (API version {version or 'default'})"
            f" cannot send {', '.join(sorted(unsupported))}; remove them or set"
            ' unsupported_params = "drop" to drop them with a warning',
            connector=connector.name,
            model=request.model,
        )
    dropped = tuple(sorted(unsupported))
    for name in dropped:
        connector.dropped_params[name] = connector.dropped_params.get(name, 0) + 1
    params: Mapping[str, Any] = {k: v for k, v in request.params.items() if k not in unsupported}
    trimmed = CompletionRequest(
        request.model, request.messages, params, request.idempotency_key, request.features
    )
    return trimmed, dropped


def finish_output(
    output: OutputSpec, result: Completion, connector: str, attempts: int = 0
) -> Completion:
    """The reply with ``parsed`` set from its text; ``OutputValidationError`` if it does not fit.

    A reply that ends in tool calls carries no answer yet, so it is left unparsed.
    """
    if result.parsed is not None or result.tool_calls:
        return result
    from patchwire.output import OutputValidationError, parse_output

    try:
        parsed = parse_output(output, result.text, connector=connector, model=result.model)
    except OutputValidationError as error:
        error.attempts = attempts
        error.request_id = result.request_id
        raise
    return attrs.evolve(result, parsed=parsed)


async def parse_stream(
    chunks: AsyncIterator[StreamChunk],
    output: OutputSpec,
    check: Callable[[str], Any] | None = None,
) -> AsyncIterator[StreamChunk]:
    """The stream, its finishing chunk carrying ``parsed`` (the whole text, validated).

    Text chunks pass through as they come; a stream that ends in tool calls is left
    unparsed, and one whose text does not validate ends with ``OutputValidationError``.
    ``check`` validates the whole text and returns the parsed value (the model passes one
    that also counts a failure in the metrics); by default, ``parse_output`` alone.
    """
    if check is None:
        from patchwire.output import parse_output

        check = partial(parse_output, output)
    texts: list[str] = []
    try:
        async for chunk in chunks:
            texts.append(chunk.text)
            if chunk.finish_reason is not None and not chunk.tool_calls:
                parsed = check("".join(texts))
                chunk = attrs.evolve(chunk, parsed=parsed)
            yield chunk
    finally:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()
