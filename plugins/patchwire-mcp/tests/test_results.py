"""How a tools/call result becomes a ToolResult, or the tool's failure. Unit tests on results
built in the test; no server is started."""

from __future__ import annotations

import json
import sys
from typing import Any

import mcp_types as types
from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.errors import Category, PatchwireError
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire_mcp.plugin import plugin
from patchwire_mcp.settings import IS_ERROR_CATEGORIES


def connector(**table: Any) -> Any:
    host = PluginHost(load_entry_points=False)
    host.register(plugin, "patchwire-mcp")
    config = {"type": "mcp", "command": sys.executable, **table}
    return Hub.from_dict({"connectors": {"srv": config}}, host=host).runtime("srv").connector


def blocks(texts: list[str]) -> list[types.ContentBlock]:
    out: list[types.ContentBlock] = [types.TextContent(text=t) for t in texts]
    out.append(types.ImageContent(data="aGk=", mime_type="image/png"))
    return out


@settings(max_examples=50, deadline=None)
@given(
    category=st.sampled_from(IS_ERROR_CATEGORIES),
    texts=st.lists(st.text(max_size=3000), max_size=3),
)
def test_is_error_raises_the_configured_category_with_the_text_and_content(
    category: str, texts: list[str]
) -> None:
    """Invariant: an isError result always raises, as the configured category, with the
    text content in the message (cut to 2000 characters) and every block in ``details``."""
    conn = connector(is_error_category=category)
    result = types.CallToolResult(content=blocks(texts), is_error=True)
    try:
        conn._result("t", result, "2026-07-28")
    except PatchwireError as err:
        assert err.category is Category(category)
        assert err.code == "isError"
        said = "\n".join(texts) or "(no text content)"
        assert err.message.startswith(f"tool 't' of MCP server 'srv' failed: {said[:2000]}")
        assert len(err.message) <= 2000 + 100
        details = json.loads(err.details or "[]")
        assert [b["type"] for b in details] == ["text"] * len(texts) + ["image"]
    else:
        raise AssertionError("an isError result must raise")


def test_structured_content_is_the_output_else_the_blocks() -> None:
    conn = connector()
    structured = conn._result(
        "add",
        types.CallToolResult(content=[types.TextContent(text="5")], structured_content={"sum": 5}),
        "2026-07-28",
    )
    assert structured.output == {"sum": 5}
    assert structured.text == "5"
    assert structured.metadata == {
        "content": [{"type": "text", "text": "5"}],
        "protocol_version": "2026-07-28",
    }
    plain = conn._result("t", types.CallToolResult(content=blocks(["a", "b"])), "2025-11-25")
    assert plain.text == "a\nb"
    assert plain.output == [
        {"type": "text", "text": "a"},
        {"type": "text", "text": "b"},
        {"type": "image", "data": "aGk=", "mimeType": "image/png"},
    ]
