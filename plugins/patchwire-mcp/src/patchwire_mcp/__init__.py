"""patchwire connector for Model Context Protocol servers: connector type ``mcp``."""

from patchwire_mcp.connector import McpConnector

__all__ = ["McpConnector"]
