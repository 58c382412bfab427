"""The tools one MCP server offers: fetched page by page, kept for the server's TTL,
and used to refuse a call before it is sent.

A listing is *fresh* while younger than its TTL (the server's ``ttlMs`` when it gives one,
else the configured default, never below the configured floor). A stale listing is still
the best knowledge there is: it may let a call through (the server validates again), but
it never refuses one on its own — the connector fetches a new listing first.
"""

from __future__ import annotations

import difflib
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

import attrs
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, relevance
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from patchwire.connector import ToolInfo
from patchwire.errors import IntegrationError, InvalidRequestError

__all__ = [
    "MAX_PAGES",
    "ListedTool",
    "ToolListing",
    "ToolPage",
    "fetch_listing",
    "json_arguments",
]

MAX_PAGES = 1000
_MAX_REPORTED_ERRORS = 5


class ListedTool(Protocol):
    """The parts of an MCP ``Tool`` the catalog reads."""

    @property
    def name(self) -> str: ...
    @property
    def title(self) -> str | None: ...
    @property
    def description(self) -> str | None: ...
    @property
    def input_schema(self) -> dict[str, Any]: ...


class ToolPage(Protocol):
    """The parts of a ``tools/list`` result the catalog reads."""

    @property
    def tools(self) -> Sequence[ListedTool]: ...
    @property
    def next_cursor(self) -> str | None: ...
    @property
    def ttl_ms(self) -> int: ...
    @property
    def model_fields_set(self) -> set[str]: ...


@attrs.frozen
class _Entry:
    info: ToolInfo
    validator: Validator | None  # None: the server's schema is itself invalid, so not checked


def _compile(name: str, schema: dict[str, Any], log: logging.Logger) -> Validator | None:
    cls = validator_for(schema, default=Draft202012Validator)
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        log.warning(
            "tool %r has an invalid input schema; its arguments are not checked: %s",
            name,
            exc.message,
        )
        return None
    validator: Validator = cls(schema)
    return validator


def json_arguments(server: str, tool: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments as the JSON the server will receive (tuples become lists)."""
    try:
        normalised: dict[str, Any] = json.loads(json.dumps(dict(arguments), allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise InvalidRequestError(
            f"arguments for tool '{tool}' of MCP server '{server}' are not JSON: {exc}",
            connector=server,
        ) from None
    return normalised


@attrs.frozen
class ToolListing:
    server: str
    entries: Mapping[str, _Entry]
    fetched_at: float
    ttl: float
    #: the session it was fetched through (a restarted server may offer other tools)
    session: int = 0

    @classmethod
    def of(
        cls,
        server: str,
        tools: Iterable[ListedTool],
        *,
        fetched_at: float,
        ttl: float,
        log: logging.Logger,
        session: int = 0,
    ) -> ToolListing:
        entries: dict[str, _Entry] = {}
        for tool in tools:
            info = ToolInfo(
                tool.name,
                tool.description or tool.title or "",
                tool.input_schema,
                getattr(tool, "output_schema", None),  # MCP 2025-06-18 and later
            )
            entries[tool.name] = _Entry(info, _compile(tool.name, tool.input_schema, log))
        return cls(server, entries, fetched_at, ttl, session)

    @property
    def tools(self) -> list[ToolInfo]:
        return [entry.info for entry in self.entries.values()]

    def fresh(self, now: float) -> bool:
        return now - self.fetched_at < self.ttl

    def expired(self) -> ToolListing:
        """This listing, stale from now on (its server restarted and may have changed)."""
        return attrs.evolve(self, ttl=0.0)

    def problem(self, tool: str, arguments: Mapping[str, Any]) -> InvalidRequestError | None:
        """Why this listing refuses the call, or None when it allows it."""
        entry = self.entries.get(tool)
        if entry is None:
            names = sorted(self.entries)
            close = difflib.get_close_matches(tool, names, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            return InvalidRequestError(
                f"MCP server '{self.server}' has no tool '{tool}'.{hint}"
                f" Its tools: {', '.join(names) or 'none'}",
                connector=self.server,
            )
        if entry.validator is None:
            return None
        errors = sorted(entry.validator.iter_errors(dict(arguments)), key=relevance)
        if not errors:
            return None
        found = [
            f"{'/'.join(str(p) for p in error.absolute_path) or '(arguments)'}: {error.message}"
            for error in errors[:_MAX_REPORTED_ERRORS]
        ]
        more = len(errors) - len(found)
        return InvalidRequestError(
            f"arguments for tool '{tool}' of MCP server '{self.server}' do not match its"
            f" input schema: {'; '.join(found)}" + (f" (and {more} more)" if more else ""),
            connector=self.server,
            details=json.dumps({"tool": tool, "errors": found}),
        )


async def fetch_listing(
    server: str,
    list_page: Callable[[str | None], Awaitable[ToolPage]],
    *,
    now: Callable[[], float],
    default_ttl: float,
    min_ttl: float,
    log: logging.Logger,
    session: int = 0,
) -> ToolListing:
    """Every page of ``tools/list``, following ``nextCursor`` until it is absent."""
    tools: list[ListedTool] = []
    server_ttl: float | None = None
    seen: set[str] = set()
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        page = await list_page(cursor)
        tools.extend(page.tools)
        if "ttl_ms" in page.model_fields_set:
            page_ttl = page.ttl_ms / 1000
            server_ttl = page_ttl if server_ttl is None else min(server_ttl, page_ttl)
        cursor = page.next_cursor
        if cursor is None:
            ttl = max(default_ttl if server_ttl is None else server_ttl, min_ttl)
            return ToolListing.of(
                server, tools, fetched_at=now(), ttl=ttl, log=log, session=session
            )
        if cursor in seen:
            raise IntegrationError(
                f"MCP server '{server}' repeated the tools/list cursor {cursor!r}", connector=server
            )
        seen.add(cursor)
    raise IntegrationError(
        f"MCP server '{server}' did not finish tools/list within {MAX_PAGES} pages",
        connector=server,
    )
