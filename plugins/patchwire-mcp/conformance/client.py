"""The client the MCP conformance suite drives: patchwire's public API, nothing more.

``npx @modelcontextprotocol/conformance client --command "python client.py"`` starts a test
server per scenario, runs this program with the server's URL as its last argument and the
scenario's name in ``MCP_CONFORMANCE_SCENARIO`` (``MCP_CONFORMANCE_CONTEXT`` holds a JSON
object of scenario data, such as client credentials), and judges what went over the wire.

What an application would do, done once for every scenario: a hub with one ``mcp``
connector for the URL, every tool listed, and every tool called with arguments made from its
input schema. The exit status is 0 when every call returned a result.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import Mapping
from typing import Any

from patchwire.errors import PatchwireError
from patchwire.hub import Hub

#: a value for each JSON Schema type, for a tool's required arguments
_SAMPLES: Mapping[str, Any] = {
    "number": 1,
    "integer": 1,
    "string": "conformance",
    "boolean": True,
    "object": {},
    "array": [],
    "null": None,
}


def sample_arguments(schema: Mapping[str, Any] | None) -> dict[str, Any]:
    """Arguments for a tool: each required property given a value of its type."""
    if not schema:
        return {}
    properties = schema.get("properties") or {}
    arguments: dict[str, Any] = {}
    for name in schema.get("required") or []:
        spec = properties.get(name) or {}
        kind = spec.get("type", "string")
        if isinstance(kind, list):
            kind = kind[0] if kind else "string"
        arguments[name] = (
            spec["default"] if "default" in spec else _SAMPLES.get(kind, "conformance")
        )
    return arguments


def connector_table(url: str, scenario: str, context: Mapping[str, Any]) -> dict[str, Any]:
    """The ``[connectors.server]`` table an application would write for this server."""
    del scenario, context  # every scenario is served by the same table for now
    return {"type": "mcp", "url": url, "retry": {"max_attempts": 1}}


async def run(url: str, scenario: str, context: Mapping[str, Any]) -> int:
    hub = Hub.from_dict({"connectors": {"server": connector_table(url, scenario, context)}})
    failures = 0
    async with hub:
        tool = hub.tool("server")
        try:
            listed = await tool.list()
        except PatchwireError as err:
            print(f"tools/list failed: {err.category.value}: {err.message}", file=sys.stderr)
            return 1
        for info in listed:
            arguments = sample_arguments(info.input_schema)
            try:
                result = await tool.call(info.name, **arguments)
            except PatchwireError as err:
                failures += 1
                print(f"{info.name} failed: {err.category.value}: {err.message}", file=sys.stderr)
                continue
            print(f"{info.name}: {result.text or json.dumps(result.output)[:200]}")
    return 1 if failures else 0


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: client.py SERVER_URL (the conformance suite appends it)", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    scenario = os.environ.get("MCP_CONFORMANCE_SCENARIO", "")
    context = json.loads(os.environ.get("MCP_CONFORMANCE_CONTEXT") or "{}")
    return asyncio.run(run(argv[-1], scenario, context))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
