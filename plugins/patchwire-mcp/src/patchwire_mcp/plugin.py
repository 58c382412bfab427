"""The entry point: hook implementations only, and nothing heavy at import time, so
``patchwire --help`` stays fast however many plugins are installed."""

from __future__ import annotations

from typing import Any

from patchwire.classification import Classification
from patchwire.connector import Connector
from patchwire.hookspecs import hookimpl
from patchwire.registry import ConnectorRegistrar

from patchwire_mcp.connector import McpConnector

__all__ = ["McpPlugin", "plugin"]


class McpPlugin:
    PATCHWIRE_CONTRACT = "1.0"

    @hookimpl
    def patchwire_register_connectors(self, register: ConnectorRegistrar) -> None:
        register("mcp", McpConnector)

    @hookimpl
    def patchwire_classify_error(
        self, connector: Connector, error: BaseException, response: Any
    ) -> Classification | None:
        if not isinstance(connector, McpConnector):
            return None
        from patchwire_mcp.errors import McpProtocolError

        if not isinstance(error, McpProtocolError):
            return None
        from patchwire_mcp.classify import classify_protocol_error

        return classify_protocol_error(error)


plugin = McpPlugin()
