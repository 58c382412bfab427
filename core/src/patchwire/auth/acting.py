"""What the schemes that act only for users share (``oauth2_delegated``, ``oauth2_token_exchange``).

Such a scheme has no identity of its own: a call without a principal fails with advice,
and ``for_principal`` hands each principal (and, where scopes are per operation, each
scope set) a small view whose ``apply``/``refresh`` ask the scheme for that principal's
token only. The OAuth client the scheme speaks as, its token endpoint and its scopes are
read from the ``[auth]`` table the same way for both.
"""

from __future__ import annotations

import ssl
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlencode

import attrs
from authlib.oauth2.auth import ClientAuth  # type: ignore[import-untyped]

from patchwire.auth.audit import report
from patchwire.auth.base import AuthContext, AuthScheme
from patchwire.auth.oauth2 import AuthSettings, TokenEndpoint
from patchwire.auth.scopes import ScopePlan, read_operation_scopes
from patchwire.errors import AuthError, PatchwireError
from patchwire.events import EventKind
from patchwire.redact import redact_url

__all__ = ["ActingScheme", "ActingSettings", "ClientCredentials", "read_acting"]

_MAX_VIEWS = 4096
#: the keys every acting scheme reads; a scheme adds its own
COMMON_KEYS = (
    "token_url",
    "client_id",
    "client_secret",
    "client_auth",
    "scopes",
    "operation_scopes",
    "resource",
    "leeway",
    "timeout",
)


class ClientCredentials:
    """The OAuth client a scheme speaks as (a public client when it has no secret)."""

    def __init__(self, ctx: AuthContext, client_id: str, secret: str | None, method: str) -> None:
        self._ctx = ctx
        self.client_id = client_id
        self.secret = secret  # a reference
        self.method = method

    def sign(self, url: str, form: str) -> tuple[str, dict[str, str]]:
        """The form and headers of a token request with this client's authentication."""
        if self.secret is None:
            return f"{form}&{urlencode({'client_id': self.client_id})}", {}
        secret = self._ctx.secrets.resolve(
            self.secret, where=f"connector '{self._ctx.connector}'"
        ).reveal()
        if self.method == "basic":
            auth = ClientAuth(
                quote(self.client_id, safe=""), quote(secret, safe=""), "client_secret_basic"
            )
        else:
            auth = ClientAuth(self.client_id, secret, "client_secret_post")
        _, headers, signed = auth.prepare("POST", url, {}, form)
        return str(signed), dict(headers)


@attrs.frozen
class ActingSettings:
    """The common part of an acting scheme's ``[auth]`` table, read and checked."""

    table: AuthSettings
    endpoint: TokenEndpoint
    client: ClientCredentials
    scopes: tuple[str, ...]
    operation_scopes: Mapping[str, tuple[str, ...]]
    resource: str | None
    leeway: float


def read_acting(
    ctx: AuthContext, settings: Mapping[str, Any], own_keys: Sequence[str]
) -> ActingSettings:
    s = AuthSettings(ctx, settings, (*COMMON_KEYS, *own_keys))
    url = s.url("token_url")
    client_id = s.text("client_id", required=True)
    assert url is not None and client_id is not None
    return ActingSettings(
        s,
        TokenEndpoint(ctx, url, timeout=s.number("timeout", 30.0, minimum=0.001)),
        ClientCredentials(
            ctx,
            client_id,
            s.reference("client_secret", required=False),
            s.choice("client_auth", ("basic", "post"), "basic"),
        ),
        s.scopes(),
        read_operation_scopes(s),
        s.text("resource"),
        s.number("leeway", 60.0),
    )


class ActingScheme(ABC):
    name: str

    def __init__(self, ctx: AuthContext, common: ActingSettings) -> None:
        self._ctx = ctx
        self.connector = ctx.connector
        self.endpoint = common.endpoint
        self.client = common.client
        self.scopes = common.scopes
        #: what each operation declares (for the tokens, load-time warnings and doctor)
        self.plan = ScopePlan(common.scopes, common.operation_scopes)
        self.resource = common.resource
        self.leeway = common.leeway
        self._views: dict[tuple[str, tuple[str, ...]], PrincipalView] = {}

    # --- the service identity: none ---------------------------------------------------

    async def apply(self, headers: dict[str, str], params: dict[str, str]) -> None:
        raise AuthError(
            f"connector '{self.connector}' acts for users (auth scheme '{self.name}'): pass"
            " principal=... to the call or wrap it in hub.acting_for(principal)",
            connector=self.connector,
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

    # --- per principal ---------------------------------------------------------------------

    def view_scopes(self, operation: str | None) -> tuple[str, ...]:
        """The scope set a principal's token for ``operation`` carries."""
        return self.plan.for_operation(operation)

    def for_principal(self, principal_id: str, operation: str | None = None) -> AuthScheme:
        key = (principal_id, self.view_scopes(operation))
        view = self._views.get(key)
        if view is None:
            if len(self._views) >= _MAX_VIEWS:
                self._views.clear()  # cheap objects; the tokens live elsewhere
            view = self._views[key] = PrincipalView(self, *key)
        return view

    def failed(self, principal_id: str, error: PatchwireError) -> None:
        """Report a refused or failed token request for ``principal_id`` (never a token)."""
        report(
            self._ctx,
            EventKind.CREDENTIAL_FAILED,
            self.name,
            message=error.message,
            category=error.category.value,
            principal=principal_id,
        )

    def obtained(self, kind: EventKind, principal_id: str, expires_in: float | None) -> None:
        report(self._ctx, kind, self.name, principal=principal_id, expires_in=expires_in)

    @abstractmethod
    async def attach_for(
        self, principal_id: str, scopes: tuple[str, ...], headers: dict[str, str]
    ) -> None:
        """Put the principal's token for ``scopes`` in ``headers``."""

    @abstractmethod
    async def refresh_for(self, principal_id: str, scopes: tuple[str, ...]) -> bool:
        """The provider refused the principal's token: get another once."""

    @abstractmethod
    async def aclose(self) -> None: ...


class PrincipalView:
    """An acting scheme as one principal's calls see it."""

    def __init__(self, owner: ActingScheme, principal_id: str, scopes: tuple[str, ...]) -> None:
        self.owner = owner
        self.principal_id = principal_id
        self.scopes = scopes
        self.name = owner.name

    async def apply(self, headers: dict[str, str], params: dict[str, str]) -> None:
        await self.owner.attach_for(self.principal_id, self.scopes, headers)

    async def refresh(self) -> bool:
        return await self.owner.refresh_for(self.principal_id, self.scopes)

    def ssl_context(self) -> ssl.SSLContext | None:
        return None

    def describe(self) -> Mapping[str, str]:
        return {**self.owner.describe(), "principal": self.principal_id}

    async def aclose(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"<{self.name} token for principal {self.principal_id!r}>"
