"""Which TLS servers asked for a client certificate and have never answered.

A server that requires mutual TLS and gets no client certificate (or one it does not trust)
ends the connection. Under TLS 1.3 the client's half of the handshake is complete by then,
so unless the server sends its alert first (OpenSSL servers that linger do; asyncio's, many
proxies and load balancers do not) the client sees only a reset or a disconnect, which read
alone is a network blip and would be retried as ``transient``. Python has no "the server
asked for a certificate" flag, so the hub watches the handshake messages of the TLS contexts
it connects with (the context's message callback, CPython's protocol-tracing hook) and
records, per context and server name, that a CertificateRequest arrived and whether any
application data has ever arrived from it. A dropped connection to a server that asked and never
answered is then an ``auth`` failure: retrying cannot produce the missing certificate.
"""

from __future__ import annotations

import errno
import ssl
import weakref
from typing import Any

import aiohttp

from patchwire.classification import Classification
from patchwire.errors import Category

__all__ = ["CERTIFICATE_REQUESTS", "CertificateRequests", "default_context"]

_HANDSHAKE = 22
_APPLICATION_DATA = 23
_CERTIFICATE_REQUEST = 13
# The ssl module's pseudo content types for a record header and (TLS 1.3) the real type of
# an encrypted record.
_HEADER = 0x100
_INNER_CONTENT_TYPE = 0x101
# Versions whose record header tells application data apart (None: handshake not finished).
_BEFORE_TLS13 = ("TLSv1.2", "TLSv1.1", "TLSv1")

_DROPS = (
    aiohttp.ServerDisconnectedError,
    ConnectionResetError,
    ConnectionAbortedError,
    BrokenPipeError,
    ssl.SSLEOFError,
    ssl.SSLZeroReturnError,
)


def _dropped(error: BaseException) -> bool:
    """True when the peer ended the connection without an answer (not a refusal to connect)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _DROPS):
            return True
        if isinstance(current, aiohttp.ClientOSError) and current.errno in (
            errno.ECONNRESET,
            errno.EPIPE,
        ):
            return True
        if isinstance(current, aiohttp.ClientConnectorError) and isinstance(
            current.os_error, _DROPS
        ):
            return True
        current = current.__cause__ or current.__context__
    return False


class CertificateRequests:
    """Per TLS context and server name: did it ask for a client certificate, and ever answer?"""

    def __init__(self) -> None:
        # context -> server name that asked for a certificate -> answered at least once
        self._state: weakref.WeakKeyDictionary[ssl.SSLContext, dict[str, bool]] = (
            weakref.WeakKeyDictionary()
        )

    def watch(self, context: ssl.SSLContext) -> ssl.SSLContext:
        """Record ``context``'s handshakes from now on; returns it. Idempotent.

        An interpreter without the message hook leaves the context as it is: dropped
        connections then stay ``transient``, as before.
        """
        if context in self._state:
            return context
        states: dict[str, bool] = {}
        previous = getattr(context, "_msg_callback", None)

        def callback(
            conn: Any, direction: str, version: Any, content_type: int, msg_type: int, data: bytes
        ) -> None:
            if previous is not None:
                previous(conn, direction, version, content_type, msg_type, data)
            if direction != "read":
                return
            try:
                host = str(conn.server_hostname or "")
                if content_type == _HANDSHAKE and msg_type == _CERTIFICATE_REQUEST:
                    # Sticky once answered: a server that has answered this context's
                    # connections does not require more than it gets, so its later drops
                    # are network failures (a new connection cannot be told apart otherwise).
                    states.setdefault(host, False)
                elif (
                    states.get(host) is False
                    and data[:1] == bytes([_APPLICATION_DATA])
                    # TLS 1.3 hides every record behind the application-data type; only the
                    # inner type tells real data from the rest of the handshake.
                    and (
                        content_type == _INNER_CONTENT_TYPE
                        or (content_type == _HEADER and conn.version() in _BEFORE_TLS13)
                    )
                ):
                    states[host] = True
            except Exception:  # never break a handshake over bookkeeping
                return

        try:
            context._msg_callback = callback  # type: ignore[attr-defined]
        except (AttributeError, TypeError):
            return context
        self._state[context] = states
        return context

    def unanswered(self, contexts: list[ssl.SSLContext | None], host: str | None) -> str | None:
        """A server name (``host``, or any when None) that asked one of ``contexts`` for a
        client certificate and has never sent application data; None when there is none."""
        for context in contexts:
            states = self._state.get(context) if context is not None else None
            if not states:
                continue
            for name, answered in states.items():
                if not answered and (host is None or name == host):
                    return name
        return None

    def classify(
        self,
        error: BaseException,
        contexts: list[ssl.SSLContext | None],
        host: str | None,
        connector: str,
    ) -> Classification | None:
        """``auth`` when ``error`` is a dropped connection to a server that asked for a client
        certificate and never answered; None otherwise (the usual classifiers decide)."""
        if not _dropped(error):
            return None
        name = self.unanswered(contexts, host)
        if name is None:
            return None
        return Classification(
            Category.AUTH,
            f"the server at {name} asked for a TLS client certificate and closed the connection"
            " without answering: it requires mutual TLS. Set client_cert and client_key in"
            f" [connectors.{connector}.tls] to a certificate it trusts",
        )


#: One record for the process: contexts are its keys, so hubs never mix, and a context
#: shared by hubs (the default one) carries one callback, not one per hub.
CERTIFICATE_REQUESTS = CertificateRequests()
_default: ssl.SSLContext | None = None


def default_context() -> ssl.SSLContext:
    """aiohttp's default client context (verified, HTTP/1.1 by ALPN), watched. Built once per
    process: loading the system's CA store takes tens of milliseconds."""
    global _default
    if _default is None:
        context = ssl.create_default_context()
        context.set_alpn_protocols(["http/1.1"])
        _default = CERTIFICATE_REQUESTS.watch(context)
    return _default
