"""Configuration of an ``mcp`` connector: what is refused when the hub is created, naming
the table and key. Unit tests: no server is started."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from patchwire.errors import ConfigError
from patchwire.hub import Hub
from patchwire.plugins import PluginHost

PYTHON = sys.executable


def load(mcp_host: PluginHost, **table: Any) -> Hub:
    return Hub.from_dict({"connectors": {"srv": {"type": "mcp", **table}}}, host=mcp_host)


@pytest.mark.parametrize(
    ("table", "key", "says"),
    [
        ({}, None, "exactly one of 'command'"),
        ({"command": PYTHON, "url": "http://127.0.0.1/mcp"}, "command", "exactly one of"),
        ({"command": "no-such-mcp-server-here"}, "command", "nor found on PATH"),
        ({"command": "/nonexistent/bin/server"}, "command", "not an executable file"),
        ({"command": PYTHON, "args": ["-m", 3]}, "args", "list of strings"),
        ({"command": PYTHON, "env": ["OK", "NOT A NAME"]}, "env", "environment variable names"),
        ({"command": PYTHON, "cwd": "/nonexistent/dir"}, "cwd", "is not a directory"),
        ({"command": PYTHON, "api_key": "env:X"}, "api_key", "sent to HTTP servers only"),
        ({"url": "ftp://host/mcp"}, "url", "expected an http:// or https:// URL"),
        ({"url": "http://127.0.0.1/mcp", "args": ["x"]}, "args", "stdio servers"),
        ({"command": PYTHON, "protocol": "2099-01-01"}, "protocol", "unknown protocol"),
        (
            {"command": PYTHON, "is_error_category": "config"},
            "is_error_category",
            "unknown category",
        ),
        ({"command": PYTHON, "tools_ttl": -1}, "tools_ttl", ">= 0"),
        ({"command": PYTHON, "startup_timeout": 0}, "startup_timeout", "> 0"),
        ({"command": PYTHON, "unknown_key": 1}, "unknown_key", ""),
    ],
)
def test_bad_tables_are_refused_at_load_naming_the_key(
    mcp_host: PluginHost, table: dict[str, Any], key: str | None, says: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load(mcp_host, **table)
    assert info.value.table == "connectors.srv"
    assert info.value.key == key
    assert says in info.value.message


@pytest.mark.parametrize(
    "table",
    [
        {"command": PYTHON, "args": ["-m", "mcp_server_time"], "env": ["TZ"], "cwd": "/"},
        {"command": "python3", "protocol": "legacy", "is_error_category": "transient"},
        {
            "url": "https://mcp.example.com/mcp",
            "api_key": "env:MCP_TOKEN",
            "protocol": "2026-07-28",
        },
    ],
)
def test_good_tables_load_without_starting_anything(
    mcp_host: PluginHost, table: dict[str, Any]
) -> None:
    hub = load(mcp_host, **table)
    assert hub.runtime("srv").connector.type_name == "mcp"
