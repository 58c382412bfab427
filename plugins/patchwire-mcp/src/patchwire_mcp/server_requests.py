"""What an MCP server may ask of the client: elicitation (input from the user) and roots.

Elicitation goes to an async handler the application supplies
(``patchwire_mcp.attach(hub, NAME, elicitation=...)``); without one the client does not
offer the capability, so a server that asks anyway is refused by the SDK. A form's answer
gets the schema's defaults for the fields the user left out, and is checked against the
schema before it is sent: an answer that does not fit is refused with the reason, never
sent half right. Roots come from the connector's ``roots`` setting.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import attrs

if TYPE_CHECKING:
    from mcp import types

__all__ = [
    "Elicitation",
    "ElicitationAnswer",
    "ElicitationHandler",
    "elicitation_callback",
    "roots_callback",
]

_INTERNAL_ERROR = -32603
_INVALID_PARAMS = -32602


@attrs.frozen
class Elicitation:
    """One question from a server: a form (``schema``) or a URL to visit (``url``)."""

    server: str
    message: str
    schema: Mapping[str, Any] | None = None
    url: str | None = None


@attrs.frozen
class ElicitationAnswer:
    """The user's answer: ``accept`` (with ``content`` for a form), ``decline`` or ``cancel``."""

    action: Literal["accept", "decline", "cancel"]
    content: Mapping[str, Any] | None = None


ElicitationHandler = Callable[[Elicitation], Awaitable[ElicitationAnswer]]


def with_defaults(schema: Mapping[str, Any], content: Mapping[str, Any]) -> dict[str, Any]:
    """``content`` with each property the user left out set to the schema's default."""
    filled = dict(content)
    for name, spec in (schema.get("properties") or {}).items():
        if name not in filled and isinstance(spec, Mapping) and "default" in spec:
            filled[name] = spec["default"]
    return filled


def answer_problem(schema: Mapping[str, Any], content: Mapping[str, Any]) -> str | None:
    """Why ``content`` does not fit ``schema``, or None when it does."""
    import jsonschema

    validator_class = jsonschema.validators.validator_for(schema, jsonschema.Draft202012Validator)
    error = jsonschema.exceptions.best_match(validator_class(schema).iter_errors(dict(content)))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path)
    return f"{where}: {error.message}" if where else error.message


def elicitation_callback(
    server: str, handler: ElicitationHandler, log: logging.Logger
) -> Callable[[Any, types.ElicitRequestParams], Awaitable[Any]]:
    """The SDK's elicitation callback around the application's ``handler``."""
    from mcp import types

    async def elicit(context: Any, params: types.ElicitRequestParams) -> Any:
        del context
        if isinstance(params, types.ElicitRequestURLParams):
            question = Elicitation(server, params.message, url=params.url)
        else:
            question = Elicitation(server, params.message, schema=params.requested_schema)
        try:
            answer = await handler(question)
        except Exception as exc:
            log.warning(
                "MCP server '%s': the elicitation handler failed: %s", server, type(exc).__name__
            )
            return types.ErrorData(
                code=_INTERNAL_ERROR,
                message=f"the client's elicitation handler failed ({type(exc).__name__})",
            )
        if answer.action != "accept" or question.schema is None:
            return types.ElicitResult(action=answer.action)
        content = with_defaults(question.schema, answer.content or {})
        problem = answer_problem(question.schema, content)
        if problem is not None:
            log.warning(
                "MCP server '%s': the elicitation answer does not fit the requested schema: %s",
                server,
                problem,
            )
            return types.ErrorData(
                code=_INVALID_PARAMS,
                message=f"the user's answer does not fit the requested schema: {problem}",
            )
        return types.ElicitResult(action="accept", content=content)

    return elicit


def roots_callback(roots: Sequence[Any]) -> Callable[[Any], Awaitable[Any]]:
    """The SDK's roots callback: the ``roots`` setting (URIs, or tables of uri and name)."""
    from mcp import types

    listed = [
        types.Root.model_validate({"uri": r} if isinstance(r, str) else dict(r)) for r in roots
    ]

    async def list_roots(context: Any) -> Any:
        del context
        return types.ListRootsResult(roots=listed)

    return list_roots
