"""patchwire connector for Model Context Protocol servers: connector type ``mcp``."""

from patchwire_mcp.attach import attach
from patchwire_mcp.authorization import Authorization, MemoryTokenStore
from patchwire_mcp.connector import McpConnector
from patchwire_mcp.notifications import Progress
from patchwire_mcp.server_requests import Elicitation, ElicitationAnswer

__all__ = [
    "Authorization",
    "Elicitation",
    "ElicitationAnswer",
    "McpConnector",
    "MemoryTokenStore",
    "Progress",
    "attach",
]
