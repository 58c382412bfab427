"""Sampling: a server asks the client's model to generate, and the hub's model answers.

The connector's ``sampling`` table names a hub model (``model``); each request goes through
that model's pipeline like any other call (its limits, retries, metrics and cost, under the
model's name) within the server's own budget: ``max_requests`` requests and ``max_tokens``
output tokens over the connector's life. Text messages only: a request with images or audio
is refused, naming what it held. Without a ``sampling`` table the capability is not offered.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from mcp import types
    from patchwire.model import Model

__all__ = ["SAMPLING_KEYS", "SamplingBudget", "check_sampling", "sampling_callback"]

SAMPLING_KEYS = ("model", "max_requests", "max_tokens")
_INTERNAL_ERROR = -32603
_INVALID_PARAMS = -32602
#: patchwire's finish reasons as MCP stop reasons
_STOP_REASONS = {"stop": "endTurn", "length": "maxTokens", "tool_calls": "toolUse"}


@attrs.define
class SamplingBudget:
    """What one server may still spend of the hub's model."""

    max_requests: int | None = None
    max_tokens: int | None = None
    requests: int = 0
    tokens: int = 0

    def spent(self) -> str | None:
        """Why no further request may go, or None."""
        if self.max_requests is not None and self.requests >= self.max_requests:
            return f"its {self.max_requests} sampling requests are used"
        if self.max_tokens is not None and self.tokens >= self.max_tokens:
            return f"its {self.max_tokens} sampling tokens are used"
        return None

    def tokens_left(self) -> int | None:
        return None if self.max_tokens is None else max(self.max_tokens - self.tokens, 0)


def check_sampling(where: Any, table: Any) -> None:
    if not isinstance(table, Mapping) or not isinstance(table.get("model"), str):
        raise where.error("sampling", "expected a table with 'model' (a hub model's name)")
    for key, value in table.items():
        if key not in SAMPLING_KEYS:
            raise where.error(f"sampling.{key}", f"unknown key; use {', '.join(SAMPLING_KEYS)}")
        if key != "model" and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise where.error(f"sampling.{key}", f"expected a whole number >= 1, got {value!r}")


def _text(server: str, content: Any) -> str:
    from mcp import types

    blocks = content if isinstance(content, list) else [content]
    texts = []
    for block in blocks:
        if not isinstance(block, types.TextContent):
            raise ValueError(
                f"MCP server '{server}' asked for sampling with {block.type} content;"
                " patchwire's sampling takes text only"
            )
        texts.append(block.text)
    return "\n".join(texts)


def sampling_callback(
    server: str, model: Model, budget: SamplingBudget, log: logging.Logger
) -> Callable[[Any, types.CreateMessageRequestParams], Awaitable[Any]]:
    """The SDK's sampling callback: the request, as a call of ``model``."""
    from mcp import types
    from patchwire.errors import PatchwireError
    from patchwire.types import Message

    async def sample(context: Any, params: types.CreateMessageRequestParams) -> Any:
        del context
        spent = budget.spent()
        if spent is not None:
            log.warning("MCP server '%s': sampling refused, %s", server, spent)
            return types.ErrorData(code=_INTERNAL_ERROR, message=f"sampling refused: {spent}")
        try:
            messages = [Message(m.role, _text(server, m.content)) for m in params.messages]
        except ValueError as err:
            return types.ErrorData(code=_INVALID_PARAMS, message=str(err))
        if params.system_prompt:
            messages.insert(0, Message("system", params.system_prompt))
        left = budget.tokens_left()
        options: dict[str, Any] = {
            "max_tokens": params.max_tokens if left is None else min(params.max_tokens, left)
        }
        if params.temperature is not None:
            options["temperature"] = params.temperature
        if params.stop_sequences:
            options["stop"] = list(params.stop_sequences)
        budget.requests += 1
        try:
            completion = await model.complete(messages, **options)
        except PatchwireError as err:
            return types.ErrorData(
                code=_INTERNAL_ERROR,
                message=f"the client's model failed: {err.category.value}: {err.message[:500]}",
            )
        budget.tokens += completion.usage.output_tokens
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text=completion.text),
            model=completion.model or model.name,
            stop_reason=_STOP_REASONS.get(completion.finish_reason or "", completion.finish_reason),
        )

    return sample
