"""OAuth for a streamable-HTTP MCP server: the ``[connectors.NAME.oauth]`` table.

The MCP SDK's OAuth flows do the protocol: on the server's 401 they read the protected
resource metadata (from the ``WWW-Authenticate`` challenge, else the well-known paths), the
authorization server's metadata (RFC 8414 or OpenID Connect, with the 2025-03-26 fallbacks),
register the client (pre-registered, a Client ID Metadata Document, or dynamic registration),
run authorization code + PKCE (S256) with the ``resource`` indicator and the issuer check
(RFC 9207), choose scopes from the challenge or ``scopes_supported``, step up on
``insufficient_scope`` and refresh. This module turns configuration into those flows, keeps
the tokens in a store the application may supply (per principal, say), and leaves the user's
part to the application: ``redirect(url)`` sends the user to the authorization page and
``callback()`` returns the query parameters (code, state, iss) the application's web layer
received.

Credentials are resolved from secret references at the first request and sent only to the
endpoints the SDK discovered for this server; nothing here logs them.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    import httpx2
    from mcp.client.auth import TokenStorage
    from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
    from patchwire.auth.tokenstore import TokenStore
    from patchwire.errors import PatchwireError
    from patchwire.secrets import SecretResolver

__all__ = [
    "GRANTS",
    "OAUTH_KEYS",
    "Authorization",
    "MemoryTokenStore",
    "reporting_auth",
    "check_oauth",
    "delegate_flow",
    "oauth_failure",
    "oauth_provider",
]

GRANTS = ("authorization_code", "client_credentials", "identity_assertion")
CLIENT_AUTH = ("none", "client_secret_basic", "client_secret_post", "private_key_jwt")
#: the keys an ``oauth`` table may hold, and what each is
OAUTH_KEYS: Mapping[str, str] = {
    "grant": f"one of {', '.join(GRANTS)} (default authorization_code)",
    "client_id": "a pre-registered client id (else a metadata document or dynamic registration)",
    "client_secret": "secret reference (env:NAME, file:PATH, ...) of the client secret",
    "client_auth": f"token endpoint client authentication: one of {', '.join(CLIENT_AUTH)}",
    "private_key": "secret reference of the PEM key that signs private_key_jwt assertions",
    "signing_algorithm": "JWS algorithm of those assertions (default RS256)",
    "scope": "scopes to ask for when neither the server's challenge nor its metadata names any",
    "client_metadata_url": "HTTPS URL of this client's Client ID Metadata Document",
    "redirect_uri": "where the authorization server sends the user back with the code",
    "client_name": "the client's name in a dynamic registration (default patchwire)",
    "issuer": "the authorization server these client credentials belong to (checked)",
    "idp_token_endpoint": "identity_assertion: the identity provider's token endpoint",
    "idp_client_id": "identity_assertion: this client's id at the identity provider",
    "idp_client_secret": "identity_assertion: secret reference of that client's secret",
    "subject_token": "identity_assertion: secret reference of the user's ID token (else"
    " Authorization.subject_token)",
}

Redirect = Callable[[str], Awaitable[None]]
#: returns the query parameters the user came back with (``code``, ``state``, ``iss``)
Callback = Callable[[], Awaitable[Mapping[str, str]]]


class MemoryTokenStore:
    """Tokens and the client registration for one server, in memory (the default store).

    Any object with these four methods may stand in for it: a store per principal, or one
    that persists tokens encrypted. It is the SDK's ``TokenStorage`` protocol.
    """

    def __init__(self) -> None:
        self._tokens: OAuthToken | None = None
        self._client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self._tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self._tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self._client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self._client = client_info

    def __repr__(self) -> str:
        # Never the tokens themselves.
        return f"<MemoryTokenStore tokens={'yes' if self._tokens else 'no'}>"


@attrs.define
class Authorization:
    """What the application supplies for a user's authorization (see the module docs)."""

    redirect: Redirect | None = None
    callback: Callback | None = None
    store: TokenStorage | None = None
    #: identity_assertion: the signed-in user's ID token, fresh for each exchange
    subject_token: Callable[[], Awaitable[str]] | None = None


def check_oauth(where: Any, table: Any) -> None:
    """Refuse at load an ``oauth`` table that could only fail at the first call."""
    if not isinstance(table, Mapping):
        raise where.error("oauth", f"expected a table with keys among {', '.join(OAUTH_KEYS)}")
    for key, value in table.items():
        if key not in OAUTH_KEYS:
            raise where.error(f"oauth.{key}", f"unknown key; use one of {', '.join(OAUTH_KEYS)}")
        if not isinstance(value, str):
            raise where.error(f"oauth.{key}", "expected a string")
    grant = table.get("grant", "authorization_code")
    if grant not in GRANTS:
        raise where.error("oauth.grant", f"unknown grant '{grant}'; use one of {', '.join(GRANTS)}")
    client_auth = table.get("client_auth")
    if client_auth is not None and client_auth not in CLIENT_AUTH:
        raise where.error(
            "oauth.client_auth",
            f"unknown method '{client_auth}'; use one of {', '.join(CLIENT_AUTH)}",
        )
    if grant == "client_credentials":
        if "client_id" not in table:
            raise where.error("oauth.client_id", "the client_credentials grant needs a client_id")
        if client_auth == "private_key_jwt" and "private_key" not in table:
            raise where.error("oauth.private_key", "private_key_jwt needs a private_key reference")
        if client_auth != "private_key_jwt" and "client_secret" not in table:
            raise where.error(
                "oauth.client_secret", "the client_credentials grant needs a client_secret"
            )
    if grant == "identity_assertion":
        for key in ("client_id", "client_secret", "idp_token_endpoint", "idp_client_id"):
            if key not in table:
                raise where.error(f"oauth.{key}", f"the identity_assertion grant needs {key}")
    metadata_url = table.get("client_metadata_url")
    if metadata_url is not None and not metadata_url.startswith("https://"):
        raise where.error("oauth.client_metadata_url", "expected an https:// URL with a path")


def _secret(secrets: SecretResolver, table: Mapping[str, str], key: str, server: str) -> str | None:
    reference = table.get(key)
    if reference is None:
        return None
    return secrets.resolve(reference, where=f"MCP server '{server}' oauth.{key}").reveal()


def oauth_provider(
    server: str,
    url: str,
    table: Mapping[str, str],
    secrets: SecretResolver,
    authorization: Authorization,
    token_store: TokenStore | None = None,
) -> httpx2.Auth:
    """The SDK flow for this server's ``oauth`` table, as the transport's ``httpx2.Auth``:
    one flow per principal, its tokens in ``authorization.store`` when the application gave
    one, else in ``token_store`` (the hub's) per principal, else in memory."""
    from patchwire_mcp.principal_tokens import (
        PerPrincipalAuth,
        Registration,
        SharedRegistration,
        StoredTokens,
    )

    registration = Registration()

    def build(key: str) -> httpx2.Auth:
        store: TokenStorage
        if authorization.store is not None:
            store = SharedRegistration(authorization.store, registration)
        elif token_store is not None:
            store = StoredTokens(token_store, key, registration)
        else:
            store = SharedRegistration(MemoryTokenStore(), registration)
        return _flow(server, url, table, secrets, authorization, store)

    return reporting_auth(server, PerPrincipalAuth(server, build))


def _flow(
    server: str,
    url: str,
    table: Mapping[str, str],
    secrets: SecretResolver,
    authorization: Authorization,
    store: TokenStorage,
) -> httpx2.Auth:
    from mcp.client.auth import OAuthClientProvider
    from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata

    client_id = table.get("client_id")
    client_auth = table.get("client_auth")
    issuer = table.get("issuer")
    if table.get("grant") == "client_credentials":
        return _client_credentials(server, url, table, secrets, store, str(client_id), issuer)
    if table.get("grant") == "identity_assertion":
        return _identity_assertion(server, url, table, secrets, store, authorization)

    redirect_uri = table.get("redirect_uri", "http://127.0.0.1:33418/callback")
    secret = _secret(secrets, table, "client_secret", server)
    # private_key_jwt applies to the client_credentials grant; a user's flow uses the rest.
    method = (
        client_auth
        if client_auth in ("none", "client_secret_post", "client_secret_basic")
        else None
    )
    metadata = OAuthClientMetadata.model_validate(
        {
            "redirect_uris": [redirect_uri],
            "client_name": table.get("client_name", "patchwire"),
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": method or ("client_secret_basic" if secret else "none"),
            **({"scope": table["scope"]} if "scope" in table else {}),
        }
    )
    if client_id is not None:
        # Pre-registered: the store starts with the registration, so none is attempted.
        preset = OAuthClientInformationFull.model_validate(
            {
                **metadata.model_dump(mode="json", exclude_none=True),
                "client_id": client_id,
                **({"client_secret": secret} if secret else {}),
            }
        )
        store = _Preregistered(store, preset)
    return OAuthClientProvider(
        url,
        metadata,
        store,
        redirect_handler=authorization.redirect or _no_redirect(server),
        callback_handler=_code(server, authorization.callback),
        client_metadata_url=table.get("client_metadata_url"),
    )


def _client_credentials(
    server: str,
    url: str,
    table: Mapping[str, str],
    secrets: SecretResolver,
    store: TokenStorage,
    client_id: str,
    issuer: str | None,
) -> httpx2.Auth:
    from mcp.client.auth.extensions.client_credentials import (
        ClientCredentialsOAuthProvider,
        PrivateKeyJWTOAuthProvider,
        SignedJWTParameters,
    )

    scope = table.get("scope")
    if table.get("client_auth") == "private_key_jwt":
        key = _secret(secrets, table, "private_key", server)
        signer = SignedJWTParameters(
            issuer=client_id,
            subject=client_id,
            signing_key=str(key),
            signing_algorithm=table.get("signing_algorithm", "RS256"),
        )
        return PrivateKeyJWTOAuthProvider(
            url,
            store,
            client_id,
            signer.create_assertion_provider(),
            scope=scope,
            issuer=issuer,
        )
    method = table.get("client_auth", "client_secret_basic")
    return ClientCredentialsOAuthProvider(
        url,
        store,
        client_id,
        str(_secret(secrets, table, "client_secret", server)),
        token_endpoint_auth_method="client_secret_post"
        if method == "client_secret_post"
        else "client_secret_basic",
        scope=scope,
        issuer=issuer,
    )


def _identity_assertion(
    server: str,
    url: str,
    table: Mapping[str, str],
    secrets: SecretResolver,
    store: TokenStorage,
    authorization: Authorization,
) -> httpx2.Auth:
    from patchwire_mcp.cross_app import IdentityAssertionAuth

    async def from_configuration() -> str:
        token = _secret(secrets, table, "subject_token", server)
        if token is None:
            raise _needs_user(server, "the user's ID token (Authorization(subject_token=...))")
        return token

    return IdentityAssertionAuth(
        server,
        url,
        store,
        client_id=table["client_id"],
        client_secret=str(_secret(secrets, table, "client_secret", server)),
        issuer=table.get("issuer"),
        idp_token_endpoint=table["idp_token_endpoint"],
        idp_client_id=table["idp_client_id"],
        idp_client_secret=_secret(secrets, table, "idp_client_secret", server),
        subject_token=authorization.subject_token or from_configuration,
        scope=table.get("scope"),
    )


class _Preregistered:
    """A store that answers with the configured registration until one is stored."""

    def __init__(self, inner: TokenStorage, preset: OAuthClientInformationFull) -> None:
        self._inner = inner
        self._preset = preset

    async def get_tokens(self) -> OAuthToken | None:
        return await self._inner.get_tokens()

    async def set_tokens(self, tokens: OAuthToken) -> None:
        await self._inner.set_tokens(tokens)

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return await self._inner.get_client_info() or self._preset

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        await self._inner.set_client_info(client_info)

    def __repr__(self) -> str:
        return "<pre-registered client>"


def _no_redirect(server: str) -> Redirect:
    async def refuse(url: str) -> None:
        del url
        raise _needs_user(server)

    return refuse


def _code(server: str, callback: Callback | None) -> Callable[[], Awaitable[Any]]:
    from mcp.shared.auth import AuthorizationCodeResult

    async def code() -> Any:
        if callback is None:
            raise _needs_user(server)
        query = await callback()
        if "code" not in query:
            from patchwire.errors import AuthError

            said = query.get("error_description") or query.get("error") or "no code"
            raise AuthError(
                f"MCP server '{server}': the authorization server sent no code back: {said}",
                connector=server,
            )
        return AuthorizationCodeResult(
            code=query["code"], state=query.get("state"), iss=query.get("iss")
        )

    return code


def _needs_user(
    server: str, what: str = "a redirect and a callback (Authorization(redirect=..., callback=...))"
) -> Exception:
    from patchwire.errors import AuthError

    return AuthError(
        f"MCP server '{server}' needs a user's authorization, and the application gave no"
        f" way to get it: pass {what} to patchwire_mcp.attach(hub, '{server}', authorization=...)",
        connector=server,
    )


def oauth_failure(server: str, error: BaseException | None) -> PatchwireError | None:
    """An OAuth flow's failure (discovery, registration, token request) as an auth error,
    or None when ``error`` is something else. The SDK's messages name endpoints and the
    server's error codes, never the credentials sent."""
    from mcp.client.auth import OAuthFlowError, OAuthRegistrationError, OAuthTokenError
    from patchwire.errors import AuthError

    if not isinstance(error, OAuthFlowError | OAuthRegistrationError | OAuthTokenError):
        return None
    return AuthError(
        f"MCP server '{server}': authorization failed: {type(error).__name__}: {str(error)[:500]}",
        connector=server,
    )


async def delegate_flow(
    inner: httpx2.Auth | Callable[[], Awaitable[httpx2.Auth]],
    request: httpx2.Request,
    on_failure: Callable[[Exception], None] = lambda exc: None,
) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
    """Run ``inner``'s auth flow (``inner`` may be built on first use) for ``request``,
    passing each response back to it; ``on_failure`` sees what the flow raises before it
    goes on up."""
    import httpx2

    try:
        auth = inner if isinstance(inner, httpx2.Auth) else await inner()
        flow = auth.async_auth_flow(request)
        outgoing = await flow.__anext__()
        while True:
            response = yield outgoing
            outgoing = await flow.asend(response)
    except StopAsyncIteration:
        return
    except Exception as exc:
        on_failure(exc)
        raise


def reporting_auth(server: str, inner: httpx2.Auth) -> httpx2.Auth:
    """``inner``, with a failure of its flow kept on the attempt's exchange as an auth error.

    The flow runs inside the SDK's transport, which turns any failure there into a closed
    connection; the attempt reads the real reason back from its exchange.
    """
    import httpx2
    from patchwire.errors import PatchwireError

    from patchwire_mcp.transports import EXCHANGE

    def keep(exc: Exception) -> None:
        failure = exc if isinstance(exc, PatchwireError) else oauth_failure(server, exc)
        exchange = EXCHANGE.get()
        if failure is not None and exchange is not None:
            exchange.auth_failure = failure

    class ReportingAuth(httpx2.Auth):
        requires_response_body = True

        def __repr__(self) -> str:
            return f"<ReportingAuth {server}>"

        def async_auth_flow(
            self, request: httpx2.Request
        ) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
            return delegate_flow(inner, request, keep)

    return ReportingAuth()
