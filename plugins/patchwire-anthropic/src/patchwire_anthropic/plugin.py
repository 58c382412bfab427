"""The ``patchwire`` entry point: hook implementations only; the connector and the wire
format are imported on first use so ``patchwire --help`` stays fast."""

from __future__ import annotations

from typing import Any

from patchwire.hookspecs import hookimpl

__all__ = ["AnthropicPlugin", "plugin"]


class AnthropicPlugin:
    PATCHWIRE_CONTRACT = "1.0"

    @hookimpl
    def patchwire_register_connectors(self, register: Any) -> None:
        from patchwire_anthropic.connector import AnthropicConnector

        register("anthropic", AnthropicConnector)

    @hookimpl
    def patchwire_register_simulators(self, register: Any) -> None:
        from patchwire_anthropic.wire import AnthropicWire

        register("anthropic", AnthropicWire)

    @hookimpl
    def patchwire_classify_error(self, connector: Any, error: BaseException, response: Any) -> Any:
        from patchwire.http import HttpResponse

        from patchwire_anthropic.classify import classify_response
        from patchwire_anthropic.connector import AnthropicConnector

        if not isinstance(connector, AnthropicConnector) or not isinstance(response, HttpResponse):
            return None
        return classify_response(response)


plugin = AnthropicPlugin()
