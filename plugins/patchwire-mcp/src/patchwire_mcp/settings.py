"""The keys of a ``[connectors.NAME]`` table of type ``mcp``, and their load-time checks."""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from patchwire.config_values import shown
from patchwire.connector import Setting
from patchwire.errors import Category

if TYPE_CHECKING:
    from patchwire.config import ConnectorConfig

__all__ = ["IS_ERROR_CATEGORIES", "SETTINGS", "TOOL_KEYS", "check", "tool_setting"]

#: what a tool's ``isError`` result may be reported as (not the pipeline's own categories)
IS_ERROR_CATEGORIES = tuple(
    c.value for c in Category if c not in (Category.CONFIG, Category.CIRCUIT_OPEN)
)

SETTINGS: Mapping[str, Setting] = {
    "command": Setting((str,), None, "executable that starts a stdio MCP server"),
    "args": Setting((list,), (), "arguments for the command"),
    "env": Setting(
        (list,),
        (),
        "names of environment variables passed on to the server, besides HOME, LOGNAME,"
        " PATH, SHELL, TERM and USER (nothing else is inherited)",
    ),
    "cwd": Setting((str,), None, "working directory of the server process"),
    "url": Setting((str,), None, "endpoint of a streamable-HTTP MCP server"),
    "protocol": Setting(
        (str,),
        "auto",
        "'auto' (discover, else the initialize handshake), 'legacy' (handshake only) or a"
        " modern protocol version such as '2026-07-28'",
    ),
    "is_error_category": Setting(
        (str,),
        Category.INVALID_REQUEST.value,
        "category of a tool result with isError: true (default invalid_request, never retried)",
    ),
    "tools_ttl": Setting(
        (int, float), 300.0, "seconds a tool listing is reused when the server gives no ttlMs"
    ),
    "min_tools_ttl": Setting(
        (int, float), 0.0, "floor on the server's ttlMs, in seconds (for servers that send 0)"
    ),
    "startup_timeout": Setting(
        (int, float), 30.0, "seconds a server has to start and finish its handshake"
    ),
    "oauth": Setting(
        (dict,),
        None,
        "OAuth for an HTTP server, [connectors.NAME.oauth]: grant, client_id, client_secret,"
        " client_auth, private_key, signing_algorithm, scope, client_metadata_url,"
        " redirect_uri, client_name, issuer (discovery finds the rest)",
    ),
    "sampling": Setting(
        (dict,),
        None,
        "sampling requests go to a hub model, [connectors.NAME.sampling]: 'model' (its name),"
        " 'max_requests' and 'max_tokens' (the server's budget); offered once"
        " patchwire_mcp.attach(hub, NAME) has run",
    ),
    "roots": Setting(
        (list,),
        (),
        "roots offered to the server: URIs, or tables with 'uri' and 'name'",
    ),
    "tools": Setting(
        (dict,),
        {},
        "per-tool settings, [connectors.NAME.tools.TOOL]: 'timeout' (seconds one attempt may"
        " take; default the connector's timeout) and 'ttl' (seconds a cached result is"
        " served; default the connector's [cache] ttl)",
    ),
}

#: the keys a ``tools.TOOL`` table may hold
TOOL_KEYS = ("timeout", "ttl")


def tool_setting(settings: Mapping[str, Any], tool: str, key: str) -> float | None:
    """A tool's own ``timeout`` or ``ttl`` (checked at load), or None to use the connector's."""
    table = (settings.get("tools") or {}).get(tool)
    value = table.get(key) if isinstance(table, Mapping) else None
    return float(value) if value is not None else None


def _check_tools(where: Any, tools: Any) -> None:
    if not isinstance(tools, Mapping):
        raise where.error("tools", "expected a table of tool names to tables")
    for tool, table in tools.items():
        key = f"tools.{tool}"
        if not isinstance(table, Mapping):
            raise where.error(key, f"expected a table with {' and/or '.join(TOOL_KEYS)}")
        for name, value in table.items():
            if name not in TOOL_KEYS:
                raise where.error(
                    f"{key}.{name}", f"unknown key; a tool's table takes {', '.join(TOOL_KEYS)}"
                )
            lowest = "> 0" if name == "timeout" else ">= 0"
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value < 0
                or (name == "timeout" and value == 0)
            ):
                raise where.error(f"{key}.{name}", f"expected seconds {lowest}, got {shown(value)}")


def _resolvable(command: str, cwd: str | None) -> bool:
    if os.sep in command or (os.altsep and os.altsep in command):
        path = Path(command)
        if not path.is_absolute() and cwd is not None:
            path = Path(cwd) / path
        return path.is_file() and os.access(path, os.X_OK)
    return shutil.which(command) is not None


def _strings(value: Any) -> bool:
    return isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)


def check(config: ConnectorConfig) -> None:
    """Refuse at load what would only fail at the first call."""
    where = config.where
    s = config.settings
    command, url = s.get("command"), s.get("url")
    if (command is None) == (url is None):
        raise where.error(
            "command" if command is not None else None,
            "an mcp connector needs exactly one of 'command' (a stdio server) or 'url'"
            " (a streamable-HTTP server)",
        )
    cwd = s.get("cwd")
    if cwd is not None and not Path(cwd).is_dir():
        raise where.error("cwd", f"'{cwd}' is not a directory")
    if command is not None:
        if not _resolvable(command, cwd):
            raise where.error(
                "command", f"'{command}' is not an executable file, nor found on PATH"
            )
        if config.api_key is not None or config.auth is not None or "oauth" in s:
            raise where.error(
                "oauth" if "oauth" in s else "auth" if config.auth is not None else "api_key",
                "credentials are sent to HTTP servers only; pass a stdio server what it needs"
                " through 'env'",
            )
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise where.error("url", f"expected an http:// or https:// URL, got '{url}'")
        for key in ("args", "env", "cwd"):
            if key in s:
                raise where.error(key, f"'{key}' applies to stdio servers (with 'command') only")
    if not _strings(s.get("args", [])):
        raise where.error("args", "expected a list of strings")
    env = s.get("env", [])
    if not _strings(env) or not all(name.isidentifier() for name in env):
        raise where.error("env", "expected a list of environment variable names")
    protocol = s.get("protocol", "auto")
    if protocol not in ("auto", "legacy"):
        from mcp_types.version import MODERN_PROTOCOL_VERSIONS

        if protocol not in MODERN_PROTOCOL_VERSIONS:
            raise where.error(
                "protocol",
                f"unknown protocol '{protocol}'; use 'auto', 'legacy' or one of"
                f" {', '.join(MODERN_PROTOCOL_VERSIONS)}",
            )
    category = s.get("is_error_category", Category.INVALID_REQUEST.value)
    if category not in IS_ERROR_CATEGORIES:
        raise where.error(
            "is_error_category",
            f"unknown category '{category}'; use one of {', '.join(IS_ERROR_CATEGORIES)}",
        )
    for key in ("tools_ttl", "min_tools_ttl"):
        if s.get(key, 0) < 0:
            raise where.error(key, "expected seconds >= 0")
    if s.get("startup_timeout", 1) <= 0:
        raise where.error("startup_timeout", "expected seconds > 0")
    _check_tools(where, s.get("tools", {}))
    if "oauth" in s:
        from patchwire_mcp.authorization import check_oauth

        if config.api_key is not None or config.auth is not None:
            # The OAuth flow's own requests (metadata, registration, token endpoint) go
            # through the same client: another credential there would leave its origin.
            raise where.error(
                "oauth", "use either 'oauth' or 'api_key'/[auth] for an MCP server, not both"
            )

        check_oauth(where, s["oauth"])
    if "sampling" in s:
        from patchwire_mcp.sampling import check_sampling

        check_sampling(where, s["sampling"])
    roots = s.get("roots", [])
    if not all(
        isinstance(r, str) or (isinstance(r, Mapping) and isinstance(r.get("uri"), str))
        for r in roots
    ):
        raise where.error("roots", "expected a list of URIs, or of tables with 'uri' and 'name'")
