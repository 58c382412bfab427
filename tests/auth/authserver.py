"""A real OAuth2 authorization server on loopback: authlib's own server, behind aiohttp.

authlib ships framework bindings for Flask and Django only; its ``AuthorizationServer`` is
framework-agnostic and needs a request adapter and a response hook, which is all this
module adds. The grants (``ClientCredentialsGrant``, ``JWTBearerGrant``), client
authentication, scope checks and assertion verification are authlib's, not ours.

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
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload, OAuth2Request
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7523 import JWTBearerGrant
from joserfc.jwk import Key


@attrs.define
class Client(ClientMixin):
    client_id: str
    client_secret: str = ""
    scopes: tuple[str, ...] = ("read", "write")
    grant_types: tuple[str, ...] = ("client_credentials",)
    auth_methods: tuple[str, ...] = ("client_secret_basic", "client_secret_post")
    public_key: Key | None = None  # for JWT bearer: the service account's key

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return ""
        return " ".join(s for s in scope.split() if s in self.scopes)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return bool(self.client_secret) and secrets.compare_digest(
            client_secret.encode(), self.client_secret.encode()
        )

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in self.auth_methods

    def check_response_type(self, response_type: str) -> bool:
        return False

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


class AuthServer(AuthorizationServer):
    """authlib's authorization server with an aiohttp front; counts and remembers tokens."""

    def __init__(self, clients: list[Client], *, expires_in: int = 3600) -> None:
        super().__init__(scopes_supported=["read", "write", "admin"])
        self.clients = {c.client_id: c for c in clients}
        self.expires_in = expires_in
        self.issued: list[dict[str, Any]] = []
        self.revoked: set[str] = set()
        self.requests = 0
        self.forms: list[dict[str, str]] = []
        self.url = ""
        self.register_token_generator(
            "default",
            BearerTokenGenerator(
                lambda **_: secrets.token_urlsafe(32),
                expires_generator=lambda client, grant_type: self.expires_in,
            ),
        )
        self.register_grant(_ClientCredentials)
        server = self

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
        self.issued.append(dict(token))

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
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    server.url = f"http://127.0.0.1:{port}/oauth/token"
    try:
        yield server
    finally:
        await runner.cleanup()
