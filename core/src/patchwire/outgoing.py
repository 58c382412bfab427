"""How the hub's HTTP leaves the process: its session's proxy rule and TLS watch.

One object per hub, so that the session (model calls, token requests), the connectors'
own TLS contexts and the classifier agree: :class:`~patchwire.proxy.ProxyRules` picks each
request's proxy, :class:`~patchwire.certrequest.CertificateRequests` remembers which servers
asked for a client certificate, and :meth:`Outgoing.classify` turns a connection such a
server dropped into an ``auth`` failure.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any

import aiohttp
from yarl import URL

from patchwire.certrequest import CERTIFICATE_REQUESTS, default_context
from patchwire.classification import Classification
from patchwire.proxy import ProxyRules, proxy_request_class

if TYPE_CHECKING:
    from patchwire.config import ConnectorConfig, HubConfig
    from patchwire.runtime import ConnectorRuntime
    from patchwire.secrets import SecretResolver

__all__ = ["Outgoing"]


class Outgoing:
    def __init__(self, config: HubConfig, secrets: SecretResolver) -> None:
        self.proxies = ProxyRules(config.proxy, secrets, config.source)
        self.certificate_requests = CERTIFICATE_REQUESTS

    def session_options(self) -> dict[str, Any]:
        """Keyword arguments for the hub's ``aiohttp.ClientSession``."""
        return {
            "connector": aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, ssl=default_context()),
            # Every connector shares this session, and cookies ignore ports: a jar would
            # hand one server's cookie to every other server of that host. Model and tool
            # APIs authenticate with headers, so the hub's session keeps no cookies.
            "cookie_jar": aiohttp.DummyCookieJar(),
            "request_class": proxy_request_class(self.proxies),
        }

    def add_connector(
        self, config: ConnectorConfig, tls: ssl.SSLContext | None, connector: object = None
    ) -> None:
        """Register a connector's proxy for its origins and watch its TLS context."""
        auth = config.auth or {}
        token_url = auth.get("token_url") if isinstance(auth.get("token_url"), str) else None
        self.proxies.add(config.name, config.proxy, [_base_url(config, connector), token_url])
        if tls is not None:
            self.certificate_requests.watch(tls)

    def classify(
        self, error: BaseException, runtime: ConnectorRuntime | None
    ) -> Classification | None:
        """``auth`` for a connection dropped by a server that wanted a client certificate."""
        if runtime is None:
            return None
        base = _base_url(runtime.config, runtime.connector)
        host = URL(base).host if base else None
        return self.certificate_requests.classify(
            error, [runtime.ssl, default_context()], host, runtime.name
        )


def _base_url(config: ConnectorConfig, connector: object) -> str | None:
    """The configured base_url, else the connector's default (``self.base_url`` by the
    convention the provider connectors follow), else None."""
    if config.base_url:
        return config.base_url
    default = getattr(connector, "base_url", None)
    return default if isinstance(default, str) and default else None
