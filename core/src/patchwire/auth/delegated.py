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
from collections.abc import Mapping
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any

from authlib.oauth2.rfc6749.parameters import (  # type: ignore[import-untyped]
    prepare_token_request,
)

from patchwire.auth.acting import ActingScheme, read_acting
from patchwire.auth.base import AuthContext, AuthScheme
from patchwire.auth.tokens import AccessToken
from patchwire.auth.tokenstore import MemoryTokenStore, StoredToken, TokenStore
from patchwire.errors import AuthError, PatchwireError
from patchwire.events import EventKind

__all__ = ["DelegatedOAuth2", "delegated_auth", "fingerprint"]

# Per task: which token (by fingerprint) each store key last handed it, so a refresh after
# a 401 can tell whether another task already replaced the refused token.
_USED: ContextVar[Mapping[str, str]] = ContextVar(
    "patchwire_delegated_used", default=MappingProxyType({})
)


def fingerprint(value: str) -> str:
    """A short digest that tells tokens apart without holding one."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:16]


class DelegatedOAuth2(ActingScheme):
    """Per-principal bearer tokens from the token store, refreshed per principal."""

    name = "oauth2_delegated"

    def __init__(
        self,
        ctx: AuthContext,
        settings: Mapping[str, Any],
    ) -> None:
        common = read_acting(ctx, settings, ("authorize_url", "redirect_uri"))
        super().__init__(ctx, common)
        s = common.table
        authorize = s.text("authorize_url")
        self.authorize_url = s.url_value("authorize_url", authorize) if authorize else None
        self.redirect_uri = s.text("redirect_uri")
        self.store: TokenStore = ctx.token_store or MemoryTokenStore()
        self._flights: dict[str, asyncio.Task[StoredToken]] = {}
        #: refresh requests sent, per store key (for tests and ``patchwire doctor``)
        self.refreshes: dict[str, int] = {}

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

    def view_scopes(self, operation: str | None) -> tuple[str, ...]:
        # The stored token is what the user granted; every operation uses it.
        return ()

    async def attach_for(
        self, principal_id: str, scopes: tuple[str, ...], headers: dict[str, str]
    ) -> None:
        stored = await self.token(principal_id, refused=False)
        self.remember(self.key(principal_id), stored)
        headers["Authorization"] = f"Bearer {stored.access_token.reveal()}"

    async def refresh_for(self, principal_id: str, scopes: tuple[str, ...]) -> bool:
        stored = await self.token(principal_id, refused=True)
        self.remember(self.key(principal_id), stored)
        return True

    def key(self, principal_id: str) -> str:
        return f"{self._ctx.connector}:{principal_id}"

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
                self.failed(principal_id, error)
                raise error from None
            self.failed(principal_id, exc)
            raise
        fresh = await self.save(principal_id, granted, stored)
        self.obtained(EventKind.CREDENTIAL_REFRESHED, principal_id, granted.expires_in)
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


def delegated_auth(ctx: AuthContext, settings: Mapping[str, Any]) -> AuthScheme:
    """``scheme = "oauth2_delegated"``: token_url, authorize_url, client_id, client_secret
    (optional: a public client), client_auth, redirect_uri, scopes, operation_scopes,
    resource, leeway, timeout."""
    return DelegatedOAuth2(ctx, settings)
