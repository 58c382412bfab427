"""The tool catalog: pages followed to the end, TTLs, and the refusals a listing makes.
Unit tests on the virtual clock, with listing pages made up in the test."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.clock import VirtualClock
from patchwire.errors import IntegrationError, InvalidRequestError
from patchwire_mcp.catalog import ToolListing, fetch_listing, json_arguments

LOG = logging.getLogger("test.catalog")


@attrs.frozen
class Tool:
    name: str
    input_schema: dict[str, Any] = attrs.field(factory=lambda: {"type": "object"})
    description: str | None = None
    title: str | None = None


@attrs.frozen
class Page:
    tools: list[Tool]
    next_cursor: str | None = None
    ttl_ms: int = 0
    model_fields_set: set[str] = attrs.field(factory=set)


def paged(tools: list[Tool], size: int, ttl_ms: int | None = None) -> tuple[Any, list[str | None]]:
    """A tools/list endpoint serving ``tools`` in pages of ``size``, and the cursors it was sent."""
    asked: list[str | None] = []

    async def page(cursor: str | None) -> Page:
        asked.append(cursor)
        start = int(cursor) if cursor else 0
        end = start + size
        return Page(
            tools[start:end],
            next_cursor=str(end) if end < len(tools) else None,
            ttl_ms=ttl_ms or 0,
            model_fields_set={"ttl_ms"} if ttl_ms is not None else set(),
        )

    return page, asked


def listing(*tools: Tool) -> ToolListing:
    return ToolListing.of("srv", tools, fetched_at=0.0, ttl=60.0, log=LOG)


ADD = Tool(
    "add",
    {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
        "required": ["a", "b"],
        "additionalProperties": False,
    },
    description="adds",
)


@settings(max_examples=60, deadline=None)
@given(count=st.integers(0, 40), size=st.integers(1, 12))
def test_listing_is_every_page_in_order_whatever_the_page_size(count: int, size: int) -> None:
    """Invariant: the listing holds every tool the server has, in its order, after exactly
    one request per page (the first page is asked without a cursor)."""
    tools = [Tool(f"t{n}") for n in range(count)]
    page, asked = paged(tools, size)
    clock = VirtualClock()
    result = asyncio.run(
        fetch_listing("srv", page, now=clock.now, default_ttl=5, min_ttl=0, log=LOG)
    )
    assert [t.name for t in result.tools] == [t.name for t in tools]
    assert len(asked) == max(1, -(-count // size))
    assert asked[0] is None


@settings(max_examples=60, deadline=None)
@given(
    server_ttl_ms=st.one_of(st.none(), st.integers(0, 100_000)),
    default=st.floats(0, 100),
    floor=st.floats(0, 100),
    age=st.floats(0, 300),
)
def test_listing_is_fresh_exactly_while_younger_than_its_ttl(
    server_ttl_ms: int | None, default: float, floor: float, age: float
) -> None:
    """Invariant: a listing is fresh iff its age is below max(the server's ttlMs, or the
    configured default when the server gives none, and the configured floor)."""
    clock = VirtualClock(start=100.0)
    page, _ = paged([Tool("t")], 5, server_ttl_ms)
    result = asyncio.run(
        fetch_listing("srv", page, now=clock.now, default_ttl=default, min_ttl=floor, log=LOG)
    )
    ttl = max(default if server_ttl_ms is None else server_ttl_ms / 1000, floor)
    assert result.ttl == ttl
    clock.advance(age)
    elapsed = clock.now() - result.fetched_at
    assert result.fresh(clock.now()) == (elapsed < ttl)
    assert not result.expired().fresh(clock.now())


async def test_the_shortest_page_ttl_governs_the_listing() -> None:
    ttls = iter([5000, 1000, 3000])

    async def page(cursor: str | None) -> Page:
        n = int(cursor or 0)
        return Page(
            [Tool(f"t{n}")],
            next_cursor=str(n + 1) if n < 2 else None,
            ttl_ms=next(ttls),
            model_fields_set={"ttl_ms"},
        )

    result = await fetch_listing(
        "srv", page, now=VirtualClock().now, default_ttl=300, min_ttl=0, log=LOG
    )
    assert result.ttl == 1.0


async def test_a_repeated_cursor_is_an_integration_error() -> None:
    async def page(cursor: str | None) -> Page:
        return Page([Tool("t")], next_cursor="again")

    with pytest.raises(IntegrationError, match="repeated the tools/list cursor 'again'"):
        await fetch_listing("srv", page, now=VirtualClock().now, default_ttl=1, min_ttl=0, log=LOG)


async def test_a_listing_that_never_ends_is_an_integration_error() -> None:
    async def page(cursor: str | None) -> Page:
        return Page([], next_cursor=str(int(cursor or 0) + 1))

    with pytest.raises(IntegrationError, match="did not finish tools/list within 1000 pages"):
        await fetch_listing("srv", page, now=VirtualClock().now, default_ttl=1, min_ttl=0, log=LOG)


def test_unknown_tool_is_refused_with_the_tools_and_a_suggestion() -> None:
    problem = listing(ADD, Tool("echo")).problem("ad", {})
    assert isinstance(problem, InvalidRequestError)
    assert (
        problem.message
        == "MCP server 'srv' has no tool 'ad'. Did you mean 'add'? Its tools: add, echo"
    )


def test_schema_violations_are_refused_with_every_path() -> None:
    problem = listing(ADD).problem("add", {"a": "x", "c": 1})
    assert problem is not None
    assert "a: 'x' is not of type 'integer'" in problem.message
    assert "'b' is a required property" in problem.message
    assert "Additional properties are not allowed ('c' was unexpected)" in problem.message
    details = json.loads(problem.details or "{}")
    assert details["tool"] == "add" and len(details["errors"]) == 3


def test_valid_arguments_and_unchecked_schemas_are_allowed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken = Tool("broken", {"type": "no-such-type"})
    caplog.set_level(logging.WARNING, logger="test.catalog")
    allowed = listing(ADD, broken)
    assert allowed.problem("add", {"a": 1, "b": 2}) is None
    assert allowed.problem("broken", {"anything": True}) is None
    assert "has an invalid input schema" in caplog.text


def test_tool_info_carries_description_else_title() -> None:
    infos = listing(ADD, Tool("t", title="Title only")).tools
    assert [(i.name, i.description) for i in infos] == [("add", "adds"), ("t", "Title only")]
    assert infos[0].input_schema == ADD.input_schema


def test_arguments_become_the_json_the_server_receives() -> None:
    assert json_arguments("srv", "t", {"xs": (1, 2), "n": None}) == {"xs": [1, 2], "n": None}
    with pytest.raises(InvalidRequestError, match="are not JSON"):
        json_arguments("srv", "t", {"when": object()})
    with pytest.raises(InvalidRequestError, match="are not JSON"):
        json_arguments("srv", "t", {"x": float("nan")})
