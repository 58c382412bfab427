"""The entry point: registers connector type ``cli`` and classifies its exit statuses.

Kept light on purpose: the connector module is imported only when a hook runs, so
``import patchwire`` and ``patchwire --help`` do not pay for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from patchwire.hookspecs import hookimpl

if TYPE_CHECKING:
    from patchwire.classification import Classification
    from patchwire.registry import ConnectorRegistrar

__all__ = ["CliPlugin", "plugin"]


class CliPlugin:
    PATCHWIRE_CONTRACT = "1.0"

    @hookimpl
    def patchwire_register_connectors(self, register: ConnectorRegistrar) -> None:
        from patchwire_cli.connector import CliConnector

        register("cli", CliConnector)

    @hookimpl
    def patchwire_classify_error(
        self, connector: Any, error: BaseException, response: Any
    ) -> Classification | None:
        from patchwire.classification import Classification

        from patchwire_cli.connector import CliConnector, CommandFailed

        if not isinstance(connector, CliConnector) or not isinstance(error, CommandFailed):
            return None
        return Classification(error.category, error.message, code=str(error.status))


plugin = CliPlugin()
