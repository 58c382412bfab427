"""Cross-app access (SEP-990): the user's identity token becomes an MCP access token.

Two legs: the identity provider exchanges the user's ID token for an Identity Assertion
Authorization Grant (RFC 8693 token exchange, ``requested_token_type`` id-jag, with the MCP
authorization server as ``audience`` and the MCP server as ``resource``), and the MCP
authorization server takes that grant in a JWT-bearer request (RFC 7523) from a
confidential client. The second leg is the SDK's ``IdentityAssertionOAuthProvider``; the
first is here. The authorization server is the ``issuer`` setting; without it, the one the
MCP server's protected resource metadata names (RFC 9728), read once before the first
request.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import httpx2

if TYPE_CHECKING:
    from mcp.client.auth import TokenStorage

__all__ = ["IdentityAssertionAuth", "protected_resource_issuer", "token_exchange"]

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"
ID_JAG = "urn:ietf:params:oauth:token-type:id-jag"
_TIMEOUT = httpx2.Timeout(30.0)


def _auth_error(message: str, server: str) -> Exception:
    from patchwire.errors import AuthError

    return AuthError(message, connector=server)


async def protected_resource_issuer(server: str, url: str, http: httpx2.AsyncClient) -> str:
    """The first authorization server the MCP server's resource metadata names: the
    path-based well-known URL first, then the root one (RFC 9728 §3.1)."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    candidates = [f"/.well-known/oauth-protected-resource{path}"] if path else []
    candidates.append("/.well-known/oauth-protected-resource")
    for candidate in candidates:
        response = await http.get(urlunsplit((parts.scheme, parts.netloc, candidate, "", "")))
        if response.status_code != 200:
            continue
        servers = response.json().get("authorization_servers") or []
        if servers and isinstance(servers[0], str):
            return servers[0]
    raise _auth_error(
        f"MCP server '{server}' names no authorization server in its protected resource"
        " metadata; set oauth.issuer",
        server,
    )


async def token_exchange(
    server: str,
    http: httpx2.AsyncClient,
    *,
    endpoint: str,
    client_id: str,
    client_secret: str | None,
    subject_token: str,
    audience: str,
    resource: str,
) -> str:
    """The identity provider's ID-JAG for the user's ID token (RFC 8693)."""
    form = {
        "grant_type": TOKEN_EXCHANGE,
        "requested_token_type": ID_JAG,
        "subject_token": subject_token,
        "subject_token_type": ID_TOKEN,
        "audience": audience,
        "resource": resource,
        "client_id": client_id,
    }
    if client_secret is not None:
        form["client_secret"] = client_secret
    response = await http.post(endpoint, data=form)
    try:
        body: Mapping[str, Any] = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200 or not isinstance(body.get("access_token"), str):
        # The provider's own error code and text; never the form, which holds the tokens.
        said = body.get("error_description") or body.get("error") or f"HTTP {response.status_code}"
        raise _auth_error(
            f"MCP server '{server}': the identity provider refused the token exchange: {said}",
            server,
        )
    return str(body["access_token"])


class IdentityAssertionAuth(httpx2.Auth):
    """The SDK's jwt-bearer flow, built at the first request once the issuer is known."""

    requires_response_body = True

    def __init__(
        self,
        server: str,
        url: str,
        store: TokenStorage,
        *,
        client_id: str,
        client_secret: str,
        issuer: str | None,
        idp_token_endpoint: str,
        idp_client_id: str,
        idp_client_secret: str | None,
        subject_token: Callable[[], Awaitable[str]],
        scope: str | None,
    ) -> None:
        self._server = server
        self._url = url
        self._store = store
        self._client_id = client_id
        self._client_secret = client_secret
        self._issuer = issuer
        self._idp = (idp_token_endpoint, idp_client_id, idp_client_secret)
        self._subject_token = subject_token
        self._scope = scope
        self._inner: httpx2.Auth | None = None

    def __repr__(self) -> str:
        return f"<IdentityAssertionAuth {self._server} client_id={self._client_id}>"

    async def _build(self) -> httpx2.Auth:
        from mcp.client.auth.extensions.identity_assertion import IdentityAssertionOAuthProvider

        endpoint, idp_client, idp_secret = self._idp
        async with httpx2.AsyncClient(timeout=_TIMEOUT) as http:
            issuer = self._issuer or await protected_resource_issuer(self._server, self._url, http)

        async def id_jag(audience: str, resource: str) -> str:
            async with httpx2.AsyncClient(timeout=_TIMEOUT) as http:
                return await token_exchange(
                    self._server,
                    http,
                    endpoint=endpoint,
                    client_id=idp_client,
                    client_secret=idp_secret,
                    subject_token=await self._subject_token(),
                    audience=audience,
                    resource=resource,
                )

        return IdentityAssertionOAuthProvider(
            self._url,
            self._store,
            self._client_id,
            self._client_secret,
            issuer,
            id_jag,
            scope=self._scope,
            token_endpoint_auth_method="client_secret_basic",
        )

    async def _built(self) -> httpx2.Auth:
        if self._inner is None:
            self._inner = await self._build()
        return self._inner

    def async_auth_flow(
        self, request: httpx2.Request
    ) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        from patchwire_mcp.authorization import delegate_flow

        return delegate_flow(self._built, request)
