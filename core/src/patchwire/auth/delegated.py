"""Acting for users with their own OAuth2 tokens: ``scheme = "oauth2_delegated"``.

The connector holds no token of its own. Each principal's tokens come from the hub's
token store (put there by the authorization-code flow, :mod:`patchwire.auth.pkce`) under
``connector:principal``; a call attaches its principal's access token and nobody
else's. A token near expiry, or one the provider refused, is refreshed with that
principal's refresh token: one request per principal and expiry however many calls
wait, and one principal's refresh never touches another's entry. A refresh refused with
``invalid_grant`` deletes the entry and fails the principal's calls as ``auth`` with a
message telling the application to send that user through authorization again; the
event and the escalation carry the principal id, never a token.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import ssl
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any

from authlib.oauth2.auth import ClientAuth  # type: ignore[import-untyped]
from authlib.oauth2.rfc6749.parameters import (  # type: ignore[import-untyped]
    prepare_token_request,
)

from patchwire.auth.audit import report
from patchwire.auth.base import AuthContext, AuthScheme
from patchwire.auth.oauth2 import AuthSettings, TokenEndpoint
from patchwire.auth.scopes import ScopePlan, read_operation_scopes
from patchwire.auth.tokens import AccessToken
from patchwire.auth.tokenstore import MemoryTokenStore, StoredToken, TokenStore
from patchwire.errors import AuthError, PatchwireError
from patchwire.events import EventKind
from patchwire.redact import redact_url

__all__ = ["DelegatedOAuth2", "delegated_auth", "fingerprint"]

_DEFAULT_LEEWAY = 60.0
_DEFAULT_TIMEOUT = 30.0
# Per task: which token (by fingerprint) each store key last handed it, so a refresh after
# a 401 can tell whether another task already replaced the refused token.
_USED: ContextVar[Mapping[str, str]] = ContextVar(
    "patchwire_delegated_used", default=MappingProxyType({})
)


def fingerprint(value: str) -> str:
    """A short digest that tells tokens apart without holding one."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:16]


class ClientCredentials:
    """The OAuth client a delegated scheme speaks as (public when it has no secret)."""

    def __init__(self, ctx: AuthContext, client_id: str, secret: str | None, method: str) -> None:
        self._ctx = ctx
        self.client_id = client_id
        self.secret = secret  # a reference
        self.method = method

    def sign(self, url: str, form: str) -> tuple[str, dict[str, str]]:
        """The form and headers of a token request with this client's authentication."""
        if self.secret is None:
            from urllib.parse import urlencode

            return f"{form}&{urlencode({'client_id': self.client_id})}", {}
        secret = self._ctx.secrets.resolve(
            self.secret, where=f"connector '{self._ctx.connector}'"
        ).reveal()
        from urllib.parse import quote

        if self.method == "basic":
            auth = ClientAuth(
                quote(self.client_id, safe=""), quote(secret, safe=""), "client_secret_basic"
            )
        else:
            auth = ClientAuth(self.client_id, secret, "client_secret_post")
        _, headers, signed = auth.prepare("POST", url, {}, form)
        return str(signed), dict(headers)


class DelegatedOAuth2:
    """Per-principal bearer tokens from the token store, refreshed per principal."""

    name = "oauth2_delegated"

    def __init__(
        self,
        ctx: AuthContext,
        endpoint: TokenEndpoint,
        client: ClientCredentials,
        *,
        authorize_url: str | None,
        redirect_uri: str | None,
        scopes: Sequence[str] = (),
        resource: str | None = None,
        leeway: float = _DEFAULT_LEEWAY,
        operation_scopes: Mapping[str, tuple[str, ...]] | None = None,
    ) -> None:
        self._ctx = ctx
        self.connector = ctx.connector
        self.endpoint = endpoint
        self.client = client
        self.authorize_url = authorize_url
        self.redirect_uri = redirect_uri
        self.scopes = tuple(scopes)
        #: what each operation declares (for load-time warnings and ``patchwire doctor``)
        self.plan = ScopePlan(self.scopes, operation_scopes or {})
        self.resource = resource
        self.leeway = leeway
        self.store: TokenStore = ctx.token_store or MemoryTokenStore()
        self._flights: dict[str, asyncio.Task[StoredToken]] = {}
        self._views: dict[str, _ForPrincipal] = {}
        #: refresh requests sent, per store key (for tests and ``patchwire doctor``)
        self.refreshes: dict[str, int] = {}

    # --- the service identity: none ---------------------------------------------------

    async def apply(self, headers: dict[str, str], params: dict[str, str]) -> None:
        raise AuthError(
            f"connector '{self._ctx.connector}' acts for users (auth scheme"
            " 'oauth2_delegated'): pass principal=... to the call or wrap it in"
            " hub.acting_for(principal)",
            connector=self._ctx.connector,
        )

    async def refresh(self) -> bool:
        return False

    def ssl_context(self) -> ssl.SSLContext | None:
        return None

    def describe(self) -> Mapping[str, str]:
        out = {
            "scheme": self.name,
            "token_url": redact_url(self.endpoint.url),
            "client_id": self.client.client_id,
        }
        if self.client.secret:
            out["client_secret"] = self.client.secret
        out.update(self.plan.describe())
        if self.resource:
            out["resource"] = self.resource
        return out

    async def aclose(self) -> None:
        flights, self._flights = list(self._flights.values()), {}
        for task in flights:
            task.cancel()
        for task in flights:
            try:
                await task
            except BaseException:
                pass

    # --- per principal ---------------------------------------------------------------------

    def key(self, principal_id: str) -> str:
        return f"{self._ctx.connector}:{principal_id}"

    def for_principal(self, principal_id: str, operation: str | None = None) -> AuthScheme:
        """The principal's stored token: what the user granted, for every operation."""
        view = self._views.get(principal_id)
        if view is None:
            if len(self._views) >= 4096:
                self._views.clear()  # cheap objects; the tokens live in the store
            view = self._views[principal_id] = _ForPrincipal(self, principal_id)
        return view

    def now(self) -> float:
        return (self._ctx.wall or self._ctx.clock.now)()

    async def save(
        self, principal_id: str, token: AccessToken, previous: StoredToken | None = None
    ) -> StoredToken:
        """Store what the token endpoint granted ``principal_id``."""
        expires = None if token.expires_in is None else self.now() + token.expires_in
        stored = StoredToken(
            token.value,
            token.refresh_token or (previous.refresh_token if previous else None),
            expires,
            token.scope or (previous.scope if previous else None),
        )
        await self.store.save(self.key(principal_id), stored)
        return stored

    async def token(self, principal_id: str, *, refused: bool) -> StoredToken:
        """The principal's token: fresh, or refreshed once (``refused``: the provider
        refused the one this task was given, unless someone replaced it already)."""
        key = self.key(principal_id)
        stored = await self.store.load(key)
        if stored is None:
            raise self._reauthorize(principal_id, "no token is stored for this user")
        if refused:
            if fingerprint(stored.access_token.reveal()) != _USED.get().get(key):
                return stored
        elif not self._stale(stored):
            return stored
        task = self._flights.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(
                self._refresh(principal_id, stored), name="patchwire-delegated-refresh"
            )
            self._flights[key] = task
            task.add_done_callback(functools.partial(self._settled, key))
        return await asyncio.shield(task)

    def _settled(self, key: str, task: asyncio.Task[StoredToken]) -> None:
        if self._flights.get(key) is task:
            del self._flights[key]
        if not task.cancelled():
            task.exception()

    def _stale(self, stored: StoredToken) -> bool:
        if stored.expires_at is None:
            return False
        return self.now() >= stored.expires_at - self.leeway

    async def _refresh(self, principal_id: str, stored: StoredToken) -> StoredToken:
        key = self.key(principal_id)
        if stored.refresh_token is None:
            await self.store.delete(key)
            raise self._reauthorize(
                principal_id, "its token expired and came without a refresh token"
            )
        self.refreshes[key] = self.refreshes.get(key, 0) + 1
        form = prepare_token_request("refresh_token", refresh_token=stored.refresh_token.reveal())
        form, headers = self.client.sign(self.endpoint.url, str(form))
        try:
            granted = await self.endpoint.request(form, headers)
        except PatchwireError as exc:
            if isinstance(exc, AuthError) and exc.code == "invalid_grant":
                again = await self.store.load(key)
                if again is not None and again.access_token != stored.access_token:
                    return again  # another process refreshed first (rotating refresh tokens)
                await self.store.delete(key)
                error = self._reauthorize(
                    principal_id,
                    "the authorization server refused its refresh token (invalid_grant)",
                )
                report(
                    self._ctx,
                    EventKind.CREDENTIAL_FAILED,
                    self.name,
                    message=error.message,
                    category=error.category.value,
                    principal=principal_id,
                )
                raise error from None
            report(
                self._ctx,
                EventKind.CREDENTIAL_FAILED,
                self.name,
                message=exc.message,
                category=exc.category.value,
                principal=principal_id,
            )
            raise
        fresh = await self.save(principal_id, granted, stored)
        report(
            self._ctx,
            EventKind.CREDENTIAL_REFRESHED,
            self.name,
            principal=principal_id,
            expires_in=granted.expires_in,
        )
        return fresh

    def _reauthorize(self, principal_id: str, why: str) -> AuthError:
        error = AuthError(
            f"principal '{principal_id}' must authorize connector '{self._ctx.connector}'"
            f" again: {why}. Send the user through the authorization flow"
            " (hub.begin_authorization / hub.complete_authorization)",
            connector=self._ctx.connector,
            code="reauthorize",
        )
        return error

    def remember(self, key: str, stored: StoredToken) -> None:
        used = _USED.get()
        mark = fingerprint(stored.access_token.reveal())
        if used.get(key) != mark:
            _USED.set(MappingProxyType({**used, key: mark}))


class _ForPrincipal:
    """The scheme as one principal's calls see it."""

    def __init__(self, owner: DelegatedOAuth2, principal_id: str) -> None:
        self.owner = owner
        self.principal_id = principal_id
        self.name = owner.name

    async def apply(self, headers: dict[str, str], params: dict[str, str]) -> None:
        stored = await self.owner.token(self.principal_id, refused=False)
        self.owner.remember(self.owner.key(self.principal_id), stored)
        headers["Authorization"] = f"Bearer {stored.access_token.reveal()}"

    async def refresh(self) -> bool:
        stored = await self.owner.token(self.principal_id, refused=True)
        self.owner.remember(self.owner.key(self.principal_id), stored)
        return True

    def ssl_context(self) -> ssl.SSLContext | None:
        return None

    def describe(self) -> Mapping[str, str]:
        return {**self.owner.describe(), "principal": self.principal_id}

    async def aclose(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"<delegated token for principal {self.principal_id!r}>"


def delegated_auth(ctx: AuthContext, settings: Mapping[str, Any]) -> AuthScheme:
    """``scheme = "oauth2_delegated"``: token_url, authorize_url, client_id, client_secret
    (optional: a public client), client_auth, redirect_uri, scopes, resource, leeway, timeout."""
    s = AuthSettings(
        ctx,
        settings,
        (
            "token_url",
            "authorize_url",
            "client_id",
            "client_secret",
            "client_auth",
            "redirect_uri",
            "scopes",
            "operation_scopes",
            "resource",
            "leeway",
            "timeout",
        ),
    )
    url = s.url("token_url")
    client_id = s.text("client_id", required=True)
    assert url is not None and client_id is not None
    authorize = s.text("authorize_url")
    endpoint = TokenEndpoint(ctx, url, timeout=s.number("timeout", _DEFAULT_TIMEOUT, minimum=0.001))
    client = ClientCredentials(
        ctx,
        client_id,
        s.reference("client_secret", required=False),
        s.choice("client_auth", ("basic", "post"), "basic"),
    )
    return DelegatedOAuth2(
        ctx,
        endpoint,
        client,
        authorize_url=s.url_value("authorize_url", authorize) if authorize else None,
        redirect_uri=s.text("redirect_uri"),
        scopes=s.scopes(),
        resource=s.text("resource"),
        leeway=s.number("leeway", _DEFAULT_LEEWAY),
        operation_scopes=read_operation_scopes(s),
    )
