"""The entry point: hook implementations only, and no heavy imports at module level,
so ``patchwire --help`` stays fast however many plugins are installed."""

from __future__ import annotations

from typing import Any

from patchwire.hookspecs import hookimpl


class AcmePlugin:
    # The plugin contract this plugin was built against: patchwire.hookspecs.CONTRACT_VERSION.
    PATCHWIRE_CONTRACT = "1.0"

    @hookimpl
    def patchwire_register_connectors(self, register: Any) -> None:
        from patchwire_acme.connector import AcmeConnector

        register("acme", AcmeConnector)

    @hookimpl
    def patchwire_register_simulators(self, register: Any) -> None:
        from patchwire_acme.wire import AcmeWire

        register("acme", AcmeWire)

    @hookimpl
    def patchwire_classify_error(self, connector: Any, error: BaseException, response: Any) -> Any:
        from patchwire_acme.connector import AcmeConnector, classify

        if not isinstance(connector, AcmeConnector):
            return None
        return classify(error, response)


plugin = AcmePlugin()
