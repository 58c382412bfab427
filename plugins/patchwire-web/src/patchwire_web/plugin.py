"""The entry point: registers connector type ``web`` and classifies its HTTP errors.

Kept light on purpose: the connector module (and the HTML parser behind it) is imported
only when a hook runs, so ``import patchwire`` and ``patchwire --help`` do not pay for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from patchwire.hookspecs import hookimpl

if TYPE_CHECKING:
    from patchwire.classification import Classification
    from patchwire.registry import ConnectorRegistrar

__all__ = ["WebPlugin", "plugin"]


class WebPlugin:
    PATCHWIRE_CONTRACT = "1.0"

    @hookimpl
    def patchwire_register_connectors(self, register: ConnectorRegistrar) -> None:
        from patchwire_web.connector import WebConnector

        register("web", WebConnector)

    @hookimpl
    def patchwire_classify_error(
        self, connector: Any, error: BaseException, response: Any
    ) -> Classification | None:
        """Core's reading of the status and headers, with the URL that answered.

        A site's error page is HTML, not an API error body, so "HTTP 404" alone would not
        say which of many URLs failed.
        """
        import attrs
        from patchwire.classify import classify_response
        from patchwire.http import HttpResponse, HttpStatusError

        from patchwire_web.connector import WebConnector

        if not isinstance(connector, WebConnector) or not isinstance(error, HttpStatusError):
            return None
        answer: HttpResponse = error.response
        base = classify_response(answer)
        plain = f"HTTP {answer.status}"
        detail = "" if base.message == plain else f": {base.message}"
        return attrs.evolve(base, message=f"{plain} from {answer.url}{detail}")


plugin = WebPlugin()
