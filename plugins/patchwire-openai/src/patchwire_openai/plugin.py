"""The ``patchwire`` entry point: hook implementations only.

Nothing heavy is imported at module level, so ``import patchwire`` and
``patchwire --help`` stay fast; the connector and the wire format load on first use.
"""

from __future__ import annotations

from typing import Any

from patchwire.hookspecs import hookimpl

__all__ = ["OpenAIPlugin", "plugin"]


class OpenAIPlugin:
    PATCHWIRE_CONTRACT = "1.0"

    @hookimpl
    def patchwire_register_connectors(self, register: Any) -> None:
        from patchwire_openai.connector import OpenAIConnector

        register("openai", OpenAIConnector)

    @hookimpl
    def patchwire_register_simulators(self, register: Any) -> None:
        from patchwire_openai.wire import OpenAIWire

        register("openai", OpenAIWire)

    @hookimpl
    def patchwire_classify_error(self, connector: Any, error: BaseException, response: Any) -> Any:
        from patchwire.http import HttpResponse

        from patchwire_openai.classify import classify_response
        from patchwire_openai.connector import OpenAIConnector

        if not isinstance(connector, OpenAIConnector) or not isinstance(response, HttpResponse):
            return None
        return classify_response(response)


plugin = OpenAIPlugin()
