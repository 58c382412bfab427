"""OAuth 2.0 Token Exchange (RFC 8693): a user's token traded for a narrower one.

``scheme = "oauth2_token_exchange"`` on a connector that calls a downstream service: for
each principal, the token that principal holds for ``subject_connector`` (an
``oauth2_delegated`` connector, read from the shared token store) is exchanged at
``token_url`` for a token limited to ``audience``/``resource`` and ``scopes``. The
narrower token is cached per principal until shortly before it expires (single-flight
per principal, like every token here) and never stored: it is cheap to get again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from patchwire.auth.acting import ActingScheme, read_acting
from patchwire.auth.base import AuthContext, AuthScheme
from patchwire.auth.tokens import AccessToken, TokenCache
from patchwire.errors import AuthError, PatchwireError
from patchwire.events import EventKind

__all__ = ["ACCESS_TOKEN_TYPE", "TokenExchange", "exchange_form", "token_exchange_auth"]

GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
_MAX_PRINCIPALS = 4096


def exchange_form(
    subject_token: str,
    *,
    subject_token_type: str = ACCESS_TOKEN_TYPE,
    audience: str | None = None,
    resource: str | None = None,
    scopes: Sequence[str] = (),
) -> str:
    """The form of an RFC 8693 §2.1 token-exchange request."""
    fields = [
        ("grant_type", GRANT),
        ("subject_token", subject_token),
        ("subject_token_type", subject_token_type),
        ("requested_token_type", ACCESS_TOKEN_TYPE),
    ]
    if audience:
        fields.append(("audience", audience))
    if resource:
        fields.append(("resource", resource))
    if scopes:
        fields.append(("scope", " ".join(scopes)))
    return urlencode(fields)


class TokenExchange(ActingScheme):
    """Per-principal tokens exchanged from each principal's ``subject_connector`` token."""

    name = "oauth2_token_exchange"

    def __init__(self, ctx: AuthContext, settings: Mapping[str, Any]) -> None:
        common = read_acting(ctx, settings, ("subject_connector", "audience"))
        super().__init__(ctx, common)
        subject = common.table.text("subject_connector", required=True)
        assert subject is not None
        self.subject_connector = subject
        self.audience = common.table.text("audience")
        self._caches: dict[tuple[str, tuple[str, ...]], TokenCache] = {}

    def describe(self) -> Mapping[str, str]:
        out = {**super().describe(), "subject_connector": self.subject_connector}
        if self.audience:
            out["audience"] = self.audience
        return out

    async def aclose(self) -> None:
        caches, self._caches = list(self._caches.values()), {}
        for cache in caches:
            await cache.aclose()

    def cache(self, principal_id: str, scopes: tuple[str, ...]) -> TokenCache:
        """One cache per principal and scope set: a read operation's narrower token is
        never the one a write operation gets, nor another principal's."""
        key = (principal_id, scopes)
        cache = self._caches.get(key)
        if cache is None:
            if len(self._caches) >= _MAX_PRINCIPALS:
                self._caches.pop(next(iter(self._caches)))
            cache = TokenCache(
                self._ctx.clock, lambda: self._exchange(principal_id, scopes), leeway=self.leeway
            )
            self._caches[key] = cache
        return cache

    async def attach_for(
        self, principal_id: str, scopes: tuple[str, ...], headers: dict[str, str]
    ) -> None:
        token = await self.cache(principal_id, scopes).get()
        headers["Authorization"] = token.authorization()

    async def refresh_for(self, principal_id: str, scopes: tuple[str, ...]) -> bool:
        await self.cache(principal_id, scopes).refresh()
        return True

    async def _exchange(self, principal_id: str, scopes: tuple[str, ...]) -> AccessToken:
        store = self._ctx.token_store
        key = f"{self.subject_connector}:{principal_id}"
        stored = await store.load(key) if store is not None else None
        now = (self._ctx.wall or self._ctx.clock.now)()
        if stored is None or (stored.expires_at is not None and stored.expires_at <= now):
            raise AuthError(
                f"principal '{principal_id}' has no live token for connector"
                f" '{self.subject_connector}' to exchange; authorize the user there first"
                " (hub.begin_authorization)",
                connector=self._ctx.connector,
                code="reauthorize",
            )
        form = exchange_form(
            stored.access_token.reveal(),
            audience=self.audience,
            resource=self.resource,
            scopes=scopes,
        )
        form, headers = self.client.sign(self.endpoint.url, form)
        try:
            token = await self.endpoint.request(form, headers)
        except PatchwireError as exc:
            self.failed(principal_id, exc)
            raise
        self.obtained(EventKind.CREDENTIAL_ACQUIRED, principal_id, token.expires_in)
        return token


def token_exchange_auth(ctx: AuthContext, settings: Mapping[str, Any]) -> AuthScheme:
    """``scheme = "oauth2_token_exchange"``: token_url, client_id, client_secret, client_auth,
    subject_connector, audience, resource, scopes, operation_scopes, leeway, timeout."""
    return TokenExchange(ctx, settings)
