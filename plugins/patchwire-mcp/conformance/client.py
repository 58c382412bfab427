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
from urllib.parse import parse_qsl, urlsplit

from patchwire.errors import PatchwireError
from patchwire.hub import Hub
from patchwire_mcp import Authorization, Elicitation, ElicitationAnswer, attach

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


def oauth_table(scenario: str, context: Mapping[str, Any]) -> dict[str, str]:
    """The ``oauth`` table for the scenario's credentials; secrets go through the
    environment, as an application's would."""
    table: dict[str, str] = {}
    if "client_id" in context:
        table["client_id"] = str(context["client_id"])
    if "client_secret" in context:
        os.environ["CONFORMANCE_CLIENT_SECRET"] = str(context["client_secret"])
        table["client_secret"] = "env:CONFORMANCE_CLIENT_SECRET"
    if "private_key_pem" in context:
        os.environ["CONFORMANCE_PRIVATE_KEY"] = str(context["private_key_pem"])
        table["private_key"] = "env:CONFORMANCE_PRIVATE_KEY"
        table["client_auth"] = "private_key_jwt"
        table["signing_algorithm"] = str(context.get("signing_algorithm", "RS256"))
    if "idp_token_endpoint" in context:
        table["grant"] = "identity_assertion"
        table["idp_token_endpoint"] = str(context["idp_token_endpoint"])
        table["idp_client_id"] = str(context["idp_client_id"])
        os.environ["CONFORMANCE_ID_TOKEN"] = str(context["idp_id_token"])
        table["subject_token"] = "env:CONFORMANCE_ID_TOKEN"
    if scenario.startswith("auth/client-credentials"):
        table["grant"] = "client_credentials"
    if scenario == "auth/basic-cimd":
        table["client_metadata_url"] = CLIENT_METADATA_URL
    return table


#: a Client ID Metadata Document URL (the suite's server does not fetch it)
CLIENT_METADATA_URL = "https://conformance-test.local/client-metadata.json"


def connector_table(url: str, scenario: str, context: Mapping[str, Any]) -> dict[str, Any]:
    """The ``[connectors.server]`` table an application would write for this server."""
    table: dict[str, Any] = {"type": "mcp", "url": url, "retry": {"max_attempts": 1}}
    if scenario.startswith("auth/"):
        table["oauth"] = oauth_table(scenario, context)
    return table


class Browser:
    """The user: follows the authorization URL, and the authorization server answers at
    once with a redirect carrying the code (the suite's server asks no questions)."""

    def __init__(self) -> None:
        self._query: dict[str, str] = {}

    async def redirect(self, url: str) -> None:
        import httpx2

        async with httpx2.AsyncClient(follow_redirects=False) as client:
            response = await client.get(url)
        location = response.headers.get("location", "")
        self._query = dict(parse_qsl(urlsplit(location).query))

    async def callback(self) -> Mapping[str, str]:
        return self._query


async def accept_defaults(question: Elicitation) -> ElicitationAnswer:
    """A user who accepts the form as offered: the connector fills in the defaults."""
    del question
    return ElicitationAnswer("accept", {})


async def run(url: str, scenario: str, context: Mapping[str, Any]) -> int:
    hub = Hub.from_dict({"connectors": {"server": connector_table(url, scenario, context)}})
    browser = Browser()
    attach(
        hub,
        "server",
        authorization=Authorization(redirect=browser.redirect, callback=browser.callback),
        elicitation=accept_defaults,
    )
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
