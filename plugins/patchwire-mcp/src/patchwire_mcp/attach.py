"""Hand an ``mcp`` connector what only the application has: how to reach its user."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from patchwire.hub import Hub

    from patchwire_mcp.authorization import Authorization
    from patchwire_mcp.notifications import ProgressHandler
    from patchwire_mcp.server_requests import ElicitationHandler

__all__ = ["attach"]


def attach(
    hub: Hub,
    name: str,
    *,
    authorization: Authorization | None = None,
    elicitation: ElicitationHandler | None = None,
    progress: ProgressHandler | None = None,
) -> None:
    """Give connector ``name`` the user's side of OAuth, an elicitation handler, a
    progress handler for its tool calls, and the hub model its ``sampling`` table names.

    Call it before the connector's first call: the server learns what the client offers
    when its session starts.
    """
    from patchwire.errors import ConfigError

    from patchwire_mcp.connector import McpConnector

    connector = hub.runtime(name).connector
    if not isinstance(connector, McpConnector):
        raise ConfigError(
            f"connector '{name}' is of type '{connector.type_name}', not 'mcp'; attach()"
            " gives MCP connectors their authorization and elicitation handlers"
        )
    sampling = connector.setting("sampling")
    if sampling is not None:
        # The model the configuration names; an unknown name fails here, naming it.
        connector.sampling_model = hub.model(sampling["model"])
    if connector.setting("oauth") is not None:
        # Each principal's tokens where the hub keeps every delegated token.
        connector.token_store = hub.token_store()
    if authorization is not None:
        connector.authorization = authorization
    if elicitation is not None:
        connector.elicitation = elicitation
    if progress is not None:
        connector.progress = progress
