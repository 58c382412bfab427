"""The entry point: registers connector type ``gemini``, its classifier and its simulator.

Kept light on purpose: the connector, classifier and simulator modules are imported only
when a hook runs, so ``import patchwire`` and ``patchwire --help`` do not pay for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from patchwire.hookspecs import hookimpl

if TYPE_CHECKING:
    from patchwire.classification import Classification
    from patchwire.registry import ConnectorRegistrar, SimulatorRegistrar

__all__ = ["GeminiPlugin", "plugin"]


class GeminiPlugin:
    PATCHWIRE_CONTRACT = "1.0"

    @hookimpl
    def patchwire_register_connectors(self, register: ConnectorRegistrar) -> None:
        from patchwire_gemini.connector import GeminiConnector

        register("gemini", GeminiConnector)

    @hookimpl
    def patchwire_classify_error(
        self, connector: Any, error: BaseException, response: Any
    ) -> Classification | None:
        from patchwire.http import HttpResponse

        from patchwire_gemini.connector import GeminiConnector
        from patchwire_gemini.status import classify_response

        if not isinstance(connector, GeminiConnector) or not isinstance(response, HttpResponse):
            return None
        return classify_response(response)

    @hookimpl
    def patchwire_register_simulators(self, register: SimulatorRegistrar) -> None:
        from patchwire_gemini.simwire import GeminiWire

        register("gemini", GeminiWire)


plugin = GeminiPlugin()
