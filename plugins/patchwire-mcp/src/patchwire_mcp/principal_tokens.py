"""Per-principal OAuth for one MCP server: each principal its own flow and tokens.

The session with the server is shared, and each request carries the token of the principal
it is for (``hub.acting_for(principal)``, or a call's ``principal=``; none: the service's
own identity). The SDK runs a request's auth flow in a copy of its sender's context, so
:func:`patchwire.principals.current_principal` names the principal there. Tokens live in
the hub's token store (``[principals] token_store``: memory, or a shared backend) under
``mcp:SERVER:PRINCIPAL``, expiry as wall time, as every delegated scheme keeps them; the
client registration (dynamic, or a metadata document) is one per server.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Callable
from typing import TYPE_CHECKING

import httpx2

if TYPE_CHECKING:
    from mcp.client.auth import TokenStorage
    from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
    from patchwire.auth.tokenstore import TokenStore

__all__ = ["PerPrincipalAuth", "Registration", "StoredTokens", "principal_key"]

#: the key part for calls made for no principal (the service's own identity)
SERVICE = "-"


def principal_key(server: str) -> str:
    from patchwire.principals import current_principal

    principal = current_principal()
    return f"mcp:{server}:{principal.id if principal is not None else SERVICE}"


class Registration:
    """The server's client registration, shared by every principal's flow."""

    def __init__(self, preset: OAuthClientInformationFull | None = None) -> None:
        self.info = preset

    def __repr__(self) -> str:
        return f"<Registration {'known' if self.info else 'none'}>"


class StoredTokens:
    """The SDK's ``TokenStorage`` over a key of patchwire's token store."""

    def __init__(self, store: TokenStore, key: str, registration: Registration) -> None:
        self._store = store
        self._key = key
        self._registration = registration

    def __repr__(self) -> str:
        return f"<StoredTokens {self._key}>"

    async def get_tokens(self) -> OAuthToken | None:
        from mcp.shared.auth import OAuthToken

        stored = await self._store.load(self._key)
        if stored is None:
            return None
        left = None if stored.expires_at is None else max(int(stored.expires_at - time.time()), 0)
        return OAuthToken(
            access_token=stored.access_token.reveal(),
            token_type="Bearer",
            expires_in=left,
            refresh_token=stored.refresh_token.reveal() if stored.refresh_token else None,
            scope=stored.scope,
        )

    async def set_tokens(self, tokens: OAuthToken) -> None:
        from patchwire.auth.tokenstore import StoredToken
        from patchwire.secrets import Secret

        expires_at = None if tokens.expires_in is None else time.time() + tokens.expires_in
        refresh = tokens.refresh_token
        await self._store.save(
            self._key,
            StoredToken(
                Secret(tokens.access_token, self._key),
                Secret(refresh, self._key) if refresh else None,
                expires_at,
                tokens.scope,
            ),
        )

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self._registration.info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self._registration.info = client_info


class SharedRegistration:
    """An application's ``TokenStorage`` for the tokens, with the registration shared."""

    def __init__(self, inner: TokenStorage, registration: Registration) -> None:
        self._inner = inner
        self._registration = registration

    def __repr__(self) -> str:
        return f"<SharedRegistration {self._inner!r}>"

    async def get_tokens(self) -> OAuthToken | None:
        return await self._inner.get_tokens()

    async def set_tokens(self, tokens: OAuthToken) -> None:
        await self._inner.set_tokens(tokens)

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return await self._inner.get_client_info() or self._registration.info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self._registration.info = client_info
        await self._inner.set_client_info(client_info)


class PerPrincipalAuth(httpx2.Auth):
    """One flow per principal key, built on the principal's first request."""

    requires_response_body = True

    def __init__(self, server: str, build: Callable[[str], httpx2.Auth]) -> None:
        self._server = server
        self._build = build
        self._flows: dict[str, httpx2.Auth] = {}

    def __repr__(self) -> str:
        return f"<PerPrincipalAuth {self._server} principals={len(self._flows)}>"

    def async_auth_flow(
        self, request: httpx2.Request
    ) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        from patchwire_mcp.authorization import delegate_flow

        key = principal_key(self._server)
        flow = self._flows.get(key)
        if flow is None:
            flow = self._flows[key] = self._build(key)
        return delegate_flow(flow, request)
