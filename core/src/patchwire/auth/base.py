"""The auth-scheme protocol the pipeline's auth layer drives.

A scheme attaches credentials to an attempt (``apply``), may obtain a fresh credential
after a 401 (``refresh``; once per expiry however many calls ask), and may provide a TLS
context (client certificates). Factories take the hub's context and the scheme's
settings table and raise ``ConfigError`` naming the key for anything wrong.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import aiohttp
import attrs

from patchwire.auth.tokenstore import TokenStore
from patchwire.clock import Clock
from patchwire.events import Event
from patchwire.secrets import SecretResolver

__all__ = ["AuthContext", "AuthFactory", "AuthScheme", "NoAuth"]


@attrs.frozen
class AuthContext:
    connector: str
    clock: Clock
    secrets: SecretResolver
    session: Callable[[], aiohttp.ClientSession]
    emit: Callable[[Event], None]
    source: str = "<dict>"  # configuration file, for error messages
    table: str = ""
    #: per-principal tokens ([principals] token_store) for delegated schemes
    token_store: TokenStore | None = None
    #: wall time (seconds) for token expiry shared through a store; None: ``clock.now``
    wall: Callable[[], float] | None = None


class AuthScheme(Protocol):
    name: str

    async def apply(self, headers: dict[str, str], params: dict[str, str]) -> None:
        """Attach the current credential (obtaining one first if needed)."""

    async def refresh(self) -> bool:
        """Obtain a fresh credential after the provider refused the current one.

        Returns False when this scheme's source cannot produce a different credential
        (a static key), so the caller fails fast instead of retrying.
        """

    def ssl_context(self) -> ssl.SSLContext | None:
        """A TLS context for this connector's requests, or None for the default."""

    def describe(self) -> Mapping[str, str]:
        """What ``patchwire doctor`` shows: scheme, references, never values."""

    async def aclose(self) -> None: ...


AuthFactory = Callable[[AuthContext, Mapping[str, Any]], AuthScheme]


class NoAuth:
    name = "none"

    async def apply(self, headers: dict[str, str], params: dict[str, str]) -> None:
        return None

    async def refresh(self) -> bool:
        return False

    def ssl_context(self) -> ssl.SSLContext | None:
        return None

    def describe(self) -> Mapping[str, str]:
        return {"scheme": "none"}

    async def aclose(self) -> None:
        return None


def no_auth(ctx: AuthContext, settings: Mapping[str, Any]) -> AuthScheme:
    return NoAuth()
