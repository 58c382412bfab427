"""A real OAuth2 authorization server on loopback: authlib's own server, behind aiohttp.

authlib ships framework bindings for Flask and Django only; its ``AuthorizationServer`` is
framework-agnostic and needs a request adapter and a response hook, which is all this
module adds. The grants (``ClientCredentialsGrant``, ``JWTBearerGrant``,
``AuthorizationCodeGrant`` with PKCE, ``RefreshTokenGrant``), client authentication,
scope checks and assertion verification are authlib's, not ours. authlib has no RFC 8693
grant, so token exchange is a small ``BaseGrant`` here (validate the subject token, grant
at most its scopes, for the same user).

A tiny "resource" check is included so tests can play the provider: a bearer token is
valid while the server has issued it and not revoked it.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, ClassVar

import attrs
from aiohttp import web
from authlib.oauth2.rfc6749 import AuthorizationServer, ClientMixin
from authlib.oauth2.rfc6749.errors import (
    InvalidGrantError,
    InvalidScopeError,
    UnauthorizedClientError,
)
from authlib.oauth2.rfc6749.grants import (
    AuthorizationCodeGrant,
    BaseGrant,
    ClientCredentialsGrant,
    RefreshTokenGrant,
    TokenEndpointMixin,
)
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload, OAuth2Request
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7523 import JWTBearerGrant
from authlib.oauth2.rfc7636 import CodeChallenge
from joserfc.jwk import Key


@attrs.define
class Client(ClientMixin):
    client_id: str
    client_secret: str = ""
    scopes: tuple[str, ...] = ("read", "write")
    grant_types: tuple[str, ...] = ("client_credentials",)
    auth_methods: tuple[str, ...] = ("client_secret_basic", "client_secret_post")
    public_key: Key | None = None  # for JWT bearer: the service account's key
    redirect_uris: tuple[str, ...] = ()

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return self.redirect_uris[0] if self.redirect_uris else None

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return ""
        return " ".join(s for s in scope.split() if s in self.scopes)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return bool(self.client_secret) and secrets.compare_digest(
            client_secret.encode(), self.client_secret.encode()
        )

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in self.auth_methods

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


class _Request(OAuth2Request):
    def __init__(self, request: web.Request, form: Mapping[str, str]) -> None:
        super().__init__(request.method, str(request.url), headers=request.headers)
        self.payload = BasicOAuth2Payload(dict(form))
        self._form = dict(form)
        self._args = dict(request.query)

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


class _ClientCredentials(ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = ["client_secret_basic", "client_secret_post"]


TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"


@attrs.define
class _Code:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: str
    challenge: str | None
    method: str | None

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


@attrs.define
class _Issued:
    """A refresh token's record: whose it is and what it may grant."""

    record: dict[str, Any]

    def check_client(self, client: Client) -> bool:
        return bool(self.record.get("client_id") == client.client_id)

    def get_scope(self) -> str:
        return str(self.record.get("scope", ""))


class _Pkce(CodeChallenge):
    def get_authorization_code_challenge(self, authorization_code: _Code) -> str | None:
        return authorization_code.challenge

    def get_authorization_code_challenge_method(self, authorization_code: _Code) -> str | None:
        return authorization_code.method


class AuthServer(AuthorizationServer):
    """authlib's authorization server with an aiohttp front; counts and remembers tokens."""

    def __init__(self, clients: list[Client], *, expires_in: int = 3600) -> None:
        super().__init__(scopes_supported=["read", "write", "admin"])
        self.clients = {c.client_id: c for c in clients}
        self.expires_in = expires_in
        self.issued: list[dict[str, Any]] = []
        self.revoked: set[str] = set()
        self.revoked_refresh: set[str] = set()
        self.codes: dict[str, _Code] = {}
        self.authorize_requests: list[dict[str, str]] = []
        self.requests = 0
        self.forms: list[dict[str, str]] = []
        self.url = ""
        self.authorize_url = ""
        self.register_token_generator(
            "default",
            BearerTokenGenerator(
                lambda **_: secrets.token_urlsafe(32),
                refresh_token_generator=lambda **_: secrets.token_urlsafe(32),
                expires_generator=lambda client, grant_type: self.expires_in,
            ),
        )
        self.register_grant(_ClientCredentials)
        server = self

        class _AuthorizationCode(AuthorizationCodeGrant):
            TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = [
                "client_secret_basic",
                "client_secret_post",
                "none",
            ]

            def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
                data = request.payload.data
                server.codes[code] = _Code(
                    code,
                    request.client.client_id,
                    request.payload.redirect_uri,
                    request.scope or "",
                    str(request.user),
                    data.get("code_challenge"),
                    data.get("code_challenge_method"),
                )

            def query_authorization_code(self, code: str, client: Client) -> _Code | None:
                found = server.codes.get(code)
                return found if found and found.client_id == client.client_id else None

            def delete_authorization_code(self, authorization_code: _Code) -> None:
                server.codes.pop(authorization_code.code, None)

            def authenticate_user(self, authorization_code: _Code) -> str:
                return authorization_code.user

        class _Refresh(RefreshTokenGrant):
            TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = [
                "client_secret_basic",
                "client_secret_post",
                "none",
            ]
            INCLUDE_NEW_REFRESH_TOKEN = True  # rotation, as most providers do

            def authenticate_refresh_token(self, refresh_token: str) -> _Issued | None:
                if refresh_token in server.revoked_refresh:
                    return None
                for record in server.issued:
                    if record.get("refresh_token") == refresh_token:
                        return _Issued(record)
                return None

            def authenticate_user(self, refresh_token: _Issued) -> str:
                return str(refresh_token.record["user"])

            def revoke_old_credential(self, refresh_token: _Issued) -> None:
                server.revoked_refresh.add(refresh_token.record["refresh_token"])

        class _Exchange(BaseGrant, TokenEndpointMixin):  # type: ignore[misc]
            GRANT_TYPE = TOKEN_EXCHANGE
            TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = [
                "client_secret_basic",
                "client_secret_post",
            ]

            def validate_token_request(self) -> None:
                client = self.authenticate_token_endpoint_client()
                if not client.check_grant_type(self.GRANT_TYPE):
                    raise UnauthorizedClientError("token exchange not allowed")
                form = self.request.form
                record = server.live(form.get("subject_token"))
                if record is None or form.get("subject_token_type") != ACCESS_TOKEN_TYPE:
                    raise InvalidGrantError("subject_token is not a live access token")
                held = set(scope_to_list(record.get("scope") or ""))
                asked = set(scope_to_list(self.request.payload.scope or "")) or held
                if not asked <= held:
                    raise InvalidScopeError("more than the subject token holds")
                self.request.client = client
                self.request.user = record["user"]
                self._granted = " ".join(sorted(asked))

            def create_token_response(self) -> tuple[int, dict[str, Any], list[Any]]:
                token = self.generate_token(
                    user=self.request.user, scope=self._granted, include_refresh_token=False
                )
                token["issued_token_type"] = ACCESS_TOKEN_TYPE
                form = self.request.form
                token["_audience"] = form.get("audience") or form.get("resource")
                self.save_token(token)
                token.pop("_audience")
                return 200, token, self.TOKEN_RESPONSE_HEADER

        self.register_grant(_AuthorizationCode, [_Pkce(required=True)])
        self.register_grant(_Refresh)
        self.register_grant(_Exchange)

        class _JwtBearer(JWTBearerGrant):
            def resolve_issuer_client(self, issuer: str) -> Client | None:
                return server.clients.get(issuer)

            def resolve_client_public_key(self, client: Client) -> Key:
                assert client.public_key is not None
                return client.public_key

            def authenticate_user(self, subject: str) -> str:
                return subject

            def has_granted_permission(self, client: Client, user: str) -> bool:
                return True

            def get_audiences(self) -> list[str]:
                return [server.url]

        self.register_grant(_JwtBearer)

    # --- the framework hooks authlib leaves to an integration -----------------------------

    def query_client(self, client_id: str) -> Client | None:
        return self.clients.get(client_id)

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        record = dict(token)
        record["user"] = getattr(request, "user", None)
        record["client_id"] = request.client.client_id if request.client else None
        self.issued.append(record)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None

    def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
        return request

    def handle_response(
        self, status: int, body: Any, headers: list[tuple[str, str]]
    ) -> web.Response:
        text = body if isinstance(body, str) else json.dumps(body)
        return web.Response(text=text, status=status, headers=dict(headers))

    # --- the aiohttp side -------------------------------------------------------------------

    async def token_endpoint(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.forms.append(form)
        response: web.StreamResponse = self.create_token_response(_Request(request, form))
        return response

    async def authorize_endpoint(self, request: web.Request) -> web.StreamResponse:
        """The user (named by ``X-User``, standing in for a login) consents at once."""
        query = {k: str(v) for k, v in request.query.items()}
        self.authorize_requests.append(query)
        response: web.StreamResponse = self.create_authorization_response(
            _Request(request, query), grant_user=request.headers["X-User"]
        )
        return response

    def live(self, value: str | None) -> dict[str, Any] | None:
        """The issued record of a live access token, or None."""
        for record in self.issued:
            if record["access_token"] == value and value not in self.revoked:
                return record
        return None

    def user_of(self, authorization: str | None) -> str | None:
        """Whose live bearer token ``authorization`` carries."""
        record = self.live((authorization or "").removeprefix("Bearer "))
        return None if record is None else record.get("user")

    def revoke_refresh_tokens(self, user: str) -> None:
        """The user withdrew consent: every refresh token of theirs stops working."""
        self.revoked_refresh |= {
            r["refresh_token"]
            for r in self.issued
            if r.get("user") == user and r.get("refresh_token")
        }

    def valid(self, authorization: str | None) -> bool:
        """The resource server's check: a live bearer token this server issued."""
        if not authorization or not authorization.startswith("Bearer "):
            return False
        value = authorization.removeprefix("Bearer ")
        live = {t["access_token"] for t in self.issued} - self.revoked
        return value in live

    def revoke_all(self) -> None:
        self.revoked |= {t["access_token"] for t in self.issued}

    @property
    def tokens(self) -> list[str]:
        return [t["access_token"] for t in self.issued]


@asynccontextmanager
async def serve(server: AuthServer) -> AsyncIterator[AuthServer]:
    """Run ``server`` on 127.0.0.1 (a free port); ``server.url`` is its token endpoint."""
    app = web.Application()
    app.router.add_post("/oauth/token", server.token_endpoint)
    app.router.add_get("/oauth/authorize", server.authorize_endpoint)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    server.url = f"http://127.0.0.1:{port}/oauth/token"
    server.authorize_url = f"http://127.0.0.1:{port}/oauth/authorize"
    try:
        yield server
    finally:
        await runner.cleanup()
