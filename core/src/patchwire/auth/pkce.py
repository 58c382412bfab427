"""The authorization-code flow's client side, with PKCE (RFC 7636, S256), for a web layer.

    start = hub.begin_authorization("github", principal)   # redirect the user to start.url
    ...                                                     # the provider calls back with ?code&state
    await hub.complete_authorization("github", principal, code=code, state=state)

``begin`` makes a random ``state`` and code verifier and remembers them (in this process,
for ten minutes) against the principal; ``complete`` accepts a callback only with a state
this process issued for that same principal, exchanges the code with the verifier and
stores the tokens under the principal. A web layer running several processes keeps the
returned :class:`AuthorizationStart` in its session and passes it back as ``start``.
The verifier never shows in a repr and the URL carries only its S256 challenge.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Sequence
from urllib.parse import urlencode, urlsplit

import attrs

from patchwire.auth.delegated import DelegatedOAuth2
from patchwire.auth.tokenstore import StoredToken
from patchwire.errors import AuthError, ConfigError, InvalidRequestError, PatchwireError
from patchwire.events import EventKind
from patchwire.secrets import Secret

__all__ = ["AuthorizationStart", "Authorizations", "challenge_for", "new_verifier"]

_PENDING_FOR = 600.0
_MAX_PENDING = 10000


def new_verifier() -> str:
    """A code verifier: 64 random bytes, base64url (86 characters, within RFC 7636's 43-128)."""
    return secrets.token_urlsafe(64)


def challenge_for(verifier: str) -> str:
    """The S256 code challenge of ``verifier``."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@attrs.frozen(repr=False)
class AuthorizationStart:
    """Where to send the user, and what the callback must match."""

    url: str
    state: str
    verifier: Secret
    principal: str
    connector: str
    redirect_uri: str
    expires_at: float

    def __repr__(self) -> str:
        return f"AuthorizationStart(connector={self.connector!r}, principal={self.principal!r}, state=...)"


class Authorizations:
    """Begins and completes authorization-code flows for one delegated connector."""

    def __init__(self, scheme: DelegatedOAuth2) -> None:
        self.scheme = scheme
        self._pending: dict[str, AuthorizationStart] = {}

    def begin(
        self,
        principal_id: str,
        *,
        scopes: Sequence[str] | None = None,
        redirect_uri: str | None = None,
    ) -> AuthorizationStart:
        scheme = self.scheme
        connector = scheme.connector
        if scheme.authorize_url is None:
            raise ConfigError(
                f"connector '{connector}': the authorization-code flow needs 'authorize_url'"
                " in its [auth] table"
            )
        redirect = redirect_uri or scheme.redirect_uri
        if not redirect:
            raise InvalidRequestError(
                f"connector '{connector}': give redirect_uri= or set 'redirect_uri' in its [auth] table"
            )
        verifier = new_verifier()
        state = secrets.token_urlsafe(32)
        query = {
            "response_type": "code",
            "client_id": scheme.client.client_id,
            "redirect_uri": redirect,
            "state": state,
            "code_challenge": challenge_for(verifier),
            "code_challenge_method": "S256",
        }
        wanted = tuple(scopes) if scopes is not None else scheme.scopes
        if wanted:
            query["scope"] = " ".join(wanted)
        if scheme.resource:
            query["resource"] = scheme.resource  # RFC 8707
        joiner = "&" if urlsplit(scheme.authorize_url).query else "?"
        now = scheme.now()
        start = AuthorizationStart(
            f"{scheme.authorize_url}{joiner}{urlencode(query)}",
            state,
            Secret(verifier, "pkce verifier"),
            principal_id,
            connector,
            redirect,
            now + _PENDING_FOR,
        )
        self._forget_expired(now)
        if len(self._pending) >= _MAX_PENDING:
            self._pending.pop(next(iter(self._pending)))
        self._pending[state] = start
        return start

    async def complete(
        self,
        principal_id: str,
        *,
        code: str,
        state: str,
        start: AuthorizationStart | None = None,
    ) -> StoredToken:
        scheme = self.scheme
        pending = start if start is not None and start.state == state else self._pending.get(state)
        if (
            pending is None
            or not secrets.compare_digest(pending.state, state)
            or pending.principal != principal_id
            or pending.expires_at <= scheme.now()
        ):
            raise AuthError(
                f"authorization callback for principal '{principal_id}' does not match a flow"
                " this application started for that user (unknown, expired or someone else's"
                " state); start again with hub.begin_authorization",
                connector=pending.connector if pending else None,
                code="state_mismatch",
            )
        self._pending.pop(state, None)
        if not isinstance(code, str) or not code:
            raise InvalidRequestError("complete_authorization needs the callback's code")
        from authlib.oauth2.rfc6749.parameters import (  # type: ignore[import-untyped]
            prepare_token_request,
        )

        extra = {"resource": scheme.resource} if scheme.resource else {}
        form = prepare_token_request(
            "authorization_code",
            code=code,
            redirect_uri=pending.redirect_uri,
            code_verifier=pending.verifier.reveal(),
            **extra,
        )
        form, headers = scheme.client.sign(scheme.endpoint.url, str(form))
        try:
            granted = await scheme.endpoint.request(form, headers)
        except PatchwireError as exc:
            scheme.failed(principal_id, exc)
            raise
        stored = await scheme.save(principal_id, granted)
        scheme.obtained(EventKind.CREDENTIAL_ACQUIRED, principal_id, granted.expires_in)
        return stored

    def _forget_expired(self, now: float) -> None:
        for state in [s for s, p in self._pending.items() if p.expires_at <= now]:
            del self._pending[state]
