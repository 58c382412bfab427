"""Anthropic's wire format for patchwire's simulator (``patchwire simulate anthropic``).

Answers ``POST /v1/messages`` the way api.anthropic.com does, as the spec copy and the
official SDK read it: messages with text blocks and separate cache usage, streams of
named events, errors as ``{"type": "error", "error": {type, message}, "request_id"}``
(529 for overload), ``anthropic-ratelimit-*`` headers with RFC 3339 reset instants, and
an ``event: error`` after HTTP 200 as the stream a client cannot use.

Rich requests are read by ``patchwire_anthropic.wire_rich``; replies carry ``thinking``
blocks (signed, so a replay is checked), optionally a ``redacted_thinking`` block
(``AnthropicWire(redacted_thinking=True)``), text, and ``tool_use`` blocks with
``toolu_`` ids; streams send them as ``content_block_start``, ``thinking_delta`` then
``signature_delta``, ``text_delta``, ``input_json_delta`` pieces and
``content_block_stop``, with ``output_tokens_details.thinking_tokens`` in the usage.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any, Final

from patchwire.testing.sim_cache import TTL_1H, TTL_5M, CacheBlock, CachePlan, canonical
from patchwire.testing.sim_content import count_tokens
from patchwire.testing.sim_limits import LimitState
from patchwire.testing.sim_rich import sign
from patchwire.testing.sim_wire import (
    ErrorDetail,
    ErrorKind,
    SimReply,
    SimRequest,
    SimResponse,
    SimRoute,
    StreamPlan,
    WireRequestError,
    compact_json,
)

from patchwire_anthropic.wire_rich import REDACTED_PREFIX, read_messages_request

__all__ = ["AnthropicWire"]

_PIECE: Final = 16  # characters per input_json_delta / thinking_delta
_MEDIA_TOKENS: Final = 1000  # the simulator's flat rate per image or document
# Prompt caching (platform.claude.com/docs/en/build-with-claude/prompt-caching): at most
# four breakpoints, TTL "5m" (the default) or "1h", longer TTLs before shorter ones, and a
# minimum cacheable prompt per model below which nothing is cached (no error). Minimums
# from the docs' table (2026 copies): 4096 for Haiku 4.5 and Opus 4.5/4.6, 2048 for
# Sonnet 4.6 and the Haiku 3 models, 1024 for the rest.
_MAX_BREAKPOINTS: Final = 4
_TTLS: Final = {None: TTL_5M, "5m": TTL_5M, "1h": TTL_1H}
_CACHE_MINIMUMS: Final = (
    ("claude-haiku-4-5", 4096),
    ("claude-opus-4-5", 4096),
    ("claude-opus-4-6", 4096),
    ("claude-sonnet-4-6", 2048),
    ("claude-3-5-haiku", 2048),
    ("claude-3-haiku", 2048),
)
_CACHE_MINIMUM: Final = 1024


def cache_minimum(model: str) -> int:
    """The shortest prompt prefix ``model`` caches, in tokens."""
    return next((n for prefix, n in _CACHE_MINIMUMS if model.startswith(prefix)), _CACHE_MINIMUM)


def _breakpoint(block: Mapping[str, Any], where: str) -> float | None:
    """The TTL of a block's ``cache_control`` breakpoint (None: it has none)."""
    control = block.get("cache_control")
    if control is None:
        return None
    if not isinstance(control, Mapping) or control.get("type") != "ephemeral":
        raise WireRequestError(
            f"{where}.cache_control.type: Input should be 'ephemeral'", param=where
        )
    ttl = control.get("ttl")
    if ttl not in _TTLS or set(control) - {"type", "ttl"}:
        raise WireRequestError(
            f"{where}.cache_control.ttl: Input should be '5m' or '1h'", param=where
        )
    return _TTLS[ttl]


def _content_tokens(block: Mapping[str, Any]) -> int:
    """What one content block counts, as ``parse`` counts the whole request."""
    kind = block.get("type")
    if kind == "text":
        return count_tokens(str(block.get("text", "")))
    if kind in ("image", "document"):
        return _MEDIA_TOKENS
    if kind == "tool_use":
        return count_tokens(f"{block.get('name')} {json.dumps(block.get('input'))}")
    if kind == "tool_result":
        content = block.get("content", "")
        if isinstance(content, str):
            return count_tokens(content)
        return sum(_content_tokens(inner) for inner in content if isinstance(inner, Mapping))
    return 0  # thinking is not counted as input


def _cache_plan(data: Mapping[str, Any], messages: Sequence[Any], model: str) -> CachePlan:
    """The prompt as cache blocks in Anthropic's order (tools, system, messages), each
    with the breakpoint its ``cache_control`` sets; checked as the API checks them."""
    blocks: list[CacheBlock] = []

    def add(block: Any, tokens: int, where: str) -> None:
        mark = _breakpoint(block, where) if isinstance(block, Mapping) else None
        key = block
        if isinstance(block, Mapping):  # the breakpoint is not part of the prefix
            key = {k: v for k, v in block.items() if k != "cache_control"}
        blocks.append(CacheBlock(canonical(key), tokens, mark))

    for index, tool in enumerate(data.get("tools") or ()):
        add(tool, 0, f"tools.{index}")  # the simulator counts no tokens for tools
    system = data.get("system")
    if isinstance(system, str):  # the same prefix as one text block
        add({"type": "text", "text": system}, count_tokens(system), "system")
    elif isinstance(system, list):
        for index, block in enumerate(system):
            add(block, _content_tokens(block), f"system.{index}")
    for number, message in enumerate(messages):
        content = message.get("content")
        framing = 3  # what parse counts per message
        if isinstance(content, str):
            text = {"role": message["role"], "type": "text", "text": content}
            add(text, count_tokens(content) + 3, "")
            continue
        for index, block in enumerate(content):
            where = f"messages.{number}.content.{index}"
            add({"role": message["role"], **block}, _content_tokens(block) + framing, where)
            framing = 0
    marks = [b.breakpoint for b in blocks if b.breakpoint is not None]
    if len(marks) > _MAX_BREAKPOINTS:
        raise WireRequestError(
            f"A maximum of {_MAX_BREAKPOINTS} blocks with cache_control may be provided."
            f" Found {len(marks)}."
        )
    if any(later > earlier for earlier, later in pairwise(marks)):
        raise WireRequestError(
            "a ttl='1h' cache_control block must not come after a ttl='5m' cache_control"
            " block. Note that blocks are processed in the following order: `tools`,"
            " `system`, `messages`."
        )
    return CachePlan(tuple(blocks), minimum=cache_minimum(model))


def _event(name: str, data: Mapping[str, Any]) -> bytes:
    return f"event: {name}\ndata: ".encode() + compact_json(data) + b"\n\n"


def _error(status: int, kind: str, message: str, request_id: str, **extra: Any) -> SimResponse:
    body = {"type": "error", "error": {"type": kind, "message": message}, "request_id": request_id}
    return SimResponse(status, compact_json(body), **extra)


def _text(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if not isinstance(block, Mapping) or not isinstance(block.get("type"), str):
                raise WireRequestError(f"{where}: each content block needs a type", param=where)
            if block["type"] == "text":
                if not isinstance(block.get("text"), str):
                    raise WireRequestError(f"{where}: text blocks need a text field", param=where)
                parts.append(block["text"])
        return "\n".join(parts)
    raise WireRequestError(f"{where}: Input should be a valid string or list", param=where)


def _instant(now_wall: float, seconds: float) -> str:
    return datetime.fromtimestamp(math.ceil(now_wall + seconds), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pieces(text: str) -> tuple[str, ...]:
    return tuple(text[i : i + _PIECE] for i in range(0, len(text), _PIECE))


def _stop_reason(reply: SimReply) -> str:
    if reply.tool_calls:
        return "tool_use"
    return "max_tokens" if reply.truncated else "end_turn"


class AnthropicWire:
    """The Messages API as the simulator serves it under ``/v1``.

    ``redacted_thinking=True`` adds a ``redacted_thinking`` block after each thinking
    block, as the real API does when its safety systems flag the reasoning.
    """

    name = "anthropic"
    connector_type = "anthropic"
    prefix = "/v1"
    example_model = "claude-haiku-4-5"
    routes: Sequence[SimRoute] = (SimRoute("/messages", "chat"),)

    def __init__(self, *, redacted_thinking: bool = False) -> None:
        self.redacted_thinking = redacted_thinking

    def credential(self, headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
        key = headers.get("x-api-key")
        if key and key.strip():
            return key.strip()
        scheme, _, token = (headers.get("Authorization") or "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()  # SDK 2.x sends the key as a bearer token
        return None

    def parse(self, route: SimRoute, body: bytes, path_params: Mapping[str, str]) -> SimRequest:
        try:
            data = json.loads(body)
        except ValueError:
            raise WireRequestError(
                "There was an issue with your request body: invalid JSON"
            ) from None
        if not isinstance(data, dict):
            raise WireRequestError("The request body must be a JSON object.")
        model = data.get("model")
        if not isinstance(model, str) or not model:
            raise WireRequestError("model: Field required", param="model")
        max_tokens = data.get("max_tokens")
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            raise WireRequestError(
                "max_tokens: Field required (an integer >= 1)", param="max_tokens"
            )
        messages = data.get("messages")
        if not isinstance(messages, list) or not messages:
            raise WireRequestError("messages: at least one message is required", param="messages")
        reading = read_messages_request(data, messages, max_tokens)
        texts = reading.texts
        system = data.get("system")
        system_text = _text(system, "system") if system is not None else ""
        stream = data.get("stream", False)
        if not isinstance(stream, bool):
            raise WireRequestError("stream: Input should be a valid boolean", param="stream")
        users = [t for role, t in texts if role == "user"]
        # Media by a flat rate (the real count is by pixels and pages).
        input_tokens = (
            sum(count_tokens(t) + 3 for _, t in texts)
            + count_tokens(system_text)
            + sum(count_tokens(t) for t in reading.call_texts)
            + 1000 * reading.media
        )
        return reading.chat_request(
            model=model,
            prompt=users[-1] if users else texts[-1][1],
            input_tokens=input_tokens,
            stream=stream,
            max_tokens=max_tokens,
            cache_plan=_cache_plan(data, messages, model),
        )

    def default_dimensions(self, model: str) -> int:
        return 0  # Anthropic has no embeddings endpoint

    def headers(self, request_id: str) -> Mapping[str, str]:
        return {"request-id": request_id, "anthropic-organization-id": "org-simulated"}

    @staticmethod
    def _id(reply: SimReply) -> str:
        return "msg_" + reply.request_id.removeprefix("req_")

    @staticmethod
    def _uncached(reply: SimReply) -> int:
        # Anthropic's input_tokens leave out what was read from or written to the cache.
        return max(0, reply.input_tokens - reply.cache.read - reply.cache.written)

    def _usage(self, reply: SimReply, output: int) -> dict[str, Any]:
        cache = reply.cache
        usage = {
            "input_tokens": self._uncached(reply),
            "output_tokens": output,
            "cache_creation_input_tokens": cache.written,
            "cache_read_input_tokens": cache.read,
            "cache_creation": {
                "ephemeral_5m_input_tokens": cache.written_5m,
                "ephemeral_1h_input_tokens": cache.written_1h,
            },
            "server_tool_use": None,
            "service_tier": "standard",
        }
        if reply.reasoning_tokens:
            usage["output_tokens_details"] = {"thinking_tokens": reply.reasoning_tokens}
        return usage

    @staticmethod
    def _output(reply: SimReply) -> int:
        # Anthropic's output_tokens include thinking.
        return reply.output_tokens + reply.reasoning_tokens

    def _content(self, reply: SimReply) -> list[dict[str, Any]]:
        """The reply's content blocks in order: thinking, text, tool calls."""
        blocks: list[dict[str, Any]] = []
        if reply.reasoning:
            blocks.append(
                {"type": "thinking", "thinking": reply.reasoning, "signature": reply.signature}
            )
            if self.redacted_thinking:
                hidden = f"(redacted) {reply.reasoning}"
                data = f"{REDACTED_PREFIX}{hidden}:{sign(hidden)}"
                blocks.append({"type": "redacted_thinking", "data": data})
        if reply.text or not reply.tool_calls:
            blocks.append({"type": "text", "text": reply.text, "citations": None})
        blocks.extend(
            {
                "type": "tool_use",
                "id": "toolu_" + c.id,
                "name": c.name,
                "input": json.loads(c.arguments),
            }
            for c in reply.tool_calls
        )
        return blocks

    def success(self, request: SimRequest, reply: SimReply) -> SimResponse:
        body = {
            "id": self._id(reply),
            "type": "message",
            "role": "assistant",
            "content": self._content(reply),
            "model": request.model,
            "stop_reason": _stop_reason(reply),
            "stop_sequence": None,
            "usage": self._usage(reply, self._output(reply)),
        }
        return SimResponse(200, compact_json(body))

    def _head(self, request: SimRequest, reply: SimReply) -> tuple[bytes, ...]:
        message: dict[str, Any] = {
            "id": self._id(reply),
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": request.model,
            "stop_reason": None,
            "stop_sequence": None,
            "usage": self._usage(reply, 1),
        }
        message["usage"].pop("output_tokens_details", None)
        return (
            _event("message_start", {"type": "message_start", "message": message}),
            self._start(0, {"type": "text", "text": ""}),
            _event("ping", {"type": "ping"}),
        )

    @staticmethod
    def _start(index: int, block: Mapping[str, Any]) -> bytes:
        return _event(
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": block},
        )

    @staticmethod
    def _delta(text: str, index: int = 0, kind: str = "text_delta", key: str = "text") -> bytes:
        return _event(
            "content_block_delta",
            {"type": "content_block_delta", "index": index, "delta": {"type": kind, key: text}},
        )

    def _block_events(self, reply: SimReply) -> list[bytes]:
        """Every content block as start, deltas, stop; ``stream`` sends the first start
        with the head."""
        events: list[bytes] = []
        for index, block in enumerate(self._content(reply)):
            kind = block["type"]
            if kind == "thinking":
                events.append(
                    self._start(index, {"type": "thinking", "thinking": "", "signature": ""})
                )
                events.extend(
                    self._delta(p, index, "thinking_delta", "thinking")
                    for p in _pieces(block["thinking"])
                )
                # The signature comes just before the block stops.
                events.append(
                    self._delta(block["signature"], index, "signature_delta", "signature")
                )
            elif kind == "redacted_thinking":
                events.append(self._start(index, block))  # no delta type: it comes whole
            elif kind == "text":
                events.append(self._start(index, {"type": "text", "text": ""}))
                events.extend(self._delta(p, index) for p in reply.pieces)
            else:
                events.append(self._start(index, {**block, "input": {}}))
                arguments = json.dumps(block["input"], separators=(",", ":"))
                events.extend(
                    self._delta(p, index, "input_json_delta", "partial_json")
                    for p in _pieces(arguments)
                )
            events.append(
                _event("content_block_stop", {"type": "content_block_stop", "index": index})
            )
        return events

    def stream(self, request: SimRequest, reply: SimReply) -> StreamPlan:
        # message_delta counts are cumulative; the spec's MessageDeltaUsage names them all.
        usage: dict[str, Any] = {
            "input_tokens": self._uncached(reply),
            "cache_creation_input_tokens": reply.cache.written,
            "cache_read_input_tokens": reply.cache.read,
            "output_tokens": self._output(reply),
            "server_tool_use": None,
        }
        if reply.reasoning_tokens:
            usage["output_tokens_details"] = {"thinking_tokens": reply.reasoning_tokens}
        tail = (
            _event(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": _stop_reason(reply), "stop_sequence": None},
                    "usage": usage,
                },
            ),
            _event("message_stop", {"type": "message_stop"}),
        )
        head = self._head(request, reply)
        events = self._block_events(reply)
        # The head already opened block 0; when that is not a text block, open it here.
        return StreamPlan(head=(head[0], events[0], head[2]), pieces=tuple(events[1:]), tail=tail)

    def malformed(
        self, request: SimRequest, reply: SimReply, rng: random.Random
    ) -> SimResponse | StreamPlan:
        if request.stream:
            # Anthropic's own way of failing after HTTP 200: an error event mid-stream.
            error = {
                "type": "error",
                "error": {"type": "overloaded_error", "message": "Overloaded"},
            }
            first = reply.pieces[:1] or ("",)
            return StreamPlan(
                head=self._head(request, reply),
                pieces=tuple(self._delta(p) for p in first),
                tail=(_event("error", error),),
            )
        whole = self.success(request, reply).body
        if rng.randrange(2) == 0:
            return SimResponse(200, whole[: max(1, len(whole) // 3)])
        return SimResponse(
            200, b"<html><body>502 Bad Gateway</body></html>", content_type="text/html"
        )

    def context_overflow(self, detail: ErrorDetail, window: int) -> SimResponse:
        """A request over the model's window, as api.anthropic.com refuses it."""
        tokens = detail.request.input_tokens if detail.request is not None else 0
        message = f"prompt is too long: {tokens} tokens > {window} maximum"
        return _error(400, "invalid_request_error", message, detail.request_id)

    def error(self, detail: ErrorDetail) -> SimResponse:
        rid = detail.request_id
        kind = detail.kind
        if kind is ErrorKind.AUTH:
            return _error(401, "authentication_error", "invalid x-api-key", rid)
        if kind is ErrorKind.INVALID_REQUEST:
            return _error(400, "invalid_request_error", detail.message, rid)
        if kind is ErrorKind.NOT_FOUND:
            return _error(404, "not_found_error", f"Not found: {detail.method} {detail.path}", rid)
        if kind is ErrorKind.TOO_LARGE:
            return _error(
                413,
                "request_too_large",
                "Request exceeds the maximum allowed number of bytes.",
                rid,
            )
        if kind is ErrorKind.QUOTA_EXHAUSTED:
            return _error(
                402,
                "billing_error",
                "Your credit balance is too low to access the Anthropic API.",
                rid,
            )
        if kind is ErrorKind.RATE_LIMITED:
            wait = detail.retry_after if detail.retry_after is not None else 1.0
            seconds = max(1, math.ceil(wait))  # Anthropic writes whole seconds
            return _error(
                429,
                "rate_limit_error",
                "This request would exceed your organization's rate limit. Please reduce the prompt"
                " length or the maximum tokens requested, or try again later.",
                rid,
                headers={"retry-after": str(seconds)},
                retry_after=float(seconds),
            )
        if kind is ErrorKind.OVERLOADED:
            return _error(529, "overloaded_error", "Overloaded", rid)
        status = detail.rng.choice((500, 504))
        if status == 504:
            return _error(504, "timeout_error", "Request timed out", rid)
        return _error(500, "api_error", "Internal server error", rid)

    def limit_headers(self, state: LimitState, now_wall: float) -> Mapping[str, str]:
        headers: dict[str, str] = {}
        for kind, window in state.windows().items():
            family = "requests" if kind.value == "requests" else "tokens"
            headers[f"anthropic-ratelimit-{family}-limit"] = str(window.limit)
            headers[f"anthropic-ratelimit-{family}-remaining"] = str(window.remaining)
            headers[f"anthropic-ratelimit-{family}-reset"] = _instant(now_wall, window.reset)
        return headers
