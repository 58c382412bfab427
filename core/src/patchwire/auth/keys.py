"""Static credentials: an API key in a header or query parameter, or a bearer token.

The value is resolved through the hub's secret resolver on every apply, which is a dict
lookup until the source's TTL expires; then the rotated value is read. ``refresh``
re-reads the reference and reports whether it changed, so a 401 after a rotation is
retried once with the new key and a plain wrong key fails fast. A rotation picked up this
way, and a reference that stops resolving, are reported as auth events.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

from patchwire.auth.attached import put_directly
from patchwire.auth.audit import report
from patchwire.auth.base import AuthContext, AuthScheme
from patchwire.errors import AuthError, ConfigError
from patchwire.events import EventKind

__all__ = ["ApiKeyAuth", "BearerAuth", "api_key_auth", "bearer_auth"]


def _reference(ctx: AuthContext, settings: Mapping[str, Any], key: str) -> str:
    value = settings.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigError(
            f"the auth scheme needs '{key}', a credential reference such as 'env:MY_KEY'",
            source=ctx.source,
            table=ctx.table,
            key=key,
        )
    return value


class _StaticKey:
    name = "static"

    def __init__(self, ctx: AuthContext, reference: str) -> None:
        self._ctx = ctx
        self.reference = reference
        # What this task's attempt sent: apply and refresh run in the calling task.
        self._sent: ContextVar[str | None] = ContextVar(f"sent:{reference}", default=None)
        # Who asks, for the resolver's messages: spelled once, not on every apply.
        self._where = f"connector '{ctx.connector}'"

    def _value(self) -> str:
        try:
            value = self._ctx.secrets.resolve(self.reference, where=self._where).reveal()
        except AuthError as exc:
            report(
                self._ctx,
                EventKind.CREDENTIAL_FAILED,
                self.name,
                message=exc.message,
                category=exc.category.value,
                reference=self.reference,
            )
            raise
        # Set only when it changed: each set copies the context's mapping, and a task
        # making call after call with one key would copy it on every attempt.
        if self._sent.get() is not value:
            self._sent.set(value)
        return value

    async def refresh(self) -> bool:
        secrets = self._ctx.secrets
        if not secrets.can_refresh(self.reference):
            return False
        # Concurrent calls that all sent the old value all get a 401: the first one's
        # re-read rotates it, and the others must retry with that value rather than
        # re-read again, find it unchanged and fail.
        sent = self._sent.get()
        current = secrets.resolve(self.reference, where=self._where).reveal()
        if sent is not None and sent != current:
            return True
        changed = secrets.reread(self.reference, where=self._where, rejected=sent)
        if changed:
            report(self._ctx, EventKind.CREDENTIAL_REFRESHED, self.name, reference=self.reference)
        return changed

    def ssl_context(self) -> ssl.SSLContext | None:
        return None

    async def aclose(self) -> None:
        return None


_AUTHORIZATION = frozenset({"authorization"})
_NO_HEADER: frozenset[str] = frozenset()


class BearerAuth(_StaticKey):
    name = "bearer"

    # The value last sent and its header, on the scheme (gone with it, never shown by its
    # repr): while the value is the same object, the same header str goes out, which the
    # request's headers cost several thousand instructions less to take than a new one
    # (issue 19, measured over real HTTP). A rotated value is a new object: a new header.
    _header: tuple[str, str] | None = None

    async def apply(self, headers: dict[str, str], params: dict[str, str]) -> None:
        self.put(headers, params)

    def put(self, headers: dict[str, str], params: dict[str, str]) -> frozenset[str]:
        """What ``apply`` does, without a coroutine (``attach`` calls it directly); returns
        the lower-cased names of the headers set."""
        value = self._value()
        last = self._header
        if last is None or last[0] is not value:
            last = self._header = (value, f"Bearer {value}")
        headers["Authorization"] = last[1]
        return _AUTHORIZATION

    def describe(self) -> Mapping[str, str]:
        return {"scheme": self.name, "token": self.reference}


class ApiKeyAuth(_StaticKey):
    name = "api_key"

    def __init__(
        self, ctx: AuthContext, reference: str, *, header: str | None, query: str | None
    ) -> None:
        super().__init__(ctx, reference)
        self.header = header
        self.query = query
        self._names = frozenset({header.lower()}) if header else _NO_HEADER

    async def apply(self, headers: dict[str, str], params: dict[str, str]) -> None:
        self.put(headers, params)

    def put(self, headers: dict[str, str], params: dict[str, str]) -> frozenset[str]:
        """What ``apply`` does, without a coroutine (``attach`` calls it directly); returns
        the lower-cased names of the headers set."""
        value = self._value()
        if self.header:
            headers[self.header] = value
        if self.query:
            params[self.query] = value
        return self._names

    def describe(self) -> Mapping[str, str]:
        where = f"header {self.header}" if self.header else f"query parameter {self.query}"
        return {"scheme": self.name, "key": self.reference, "sent_in": where}


put_directly(BearerAuth, BearerAuth.put)
put_directly(ApiKeyAuth, ApiKeyAuth.put)


def bearer_auth(ctx: AuthContext, settings: Mapping[str, Any]) -> AuthScheme:
    _only(ctx, settings, {"scheme", "token"})
    return BearerAuth(ctx, _reference(ctx, settings, "token"))


def api_key_auth(ctx: AuthContext, settings: Mapping[str, Any]) -> AuthScheme:
    _only(ctx, settings, {"scheme", "key", "header", "query"})
    header = settings.get("header")
    query = settings.get("query")
    if header is None and query is None:
        header = "x-api-key"
    if header is not None and not isinstance(header, str):
        raise ConfigError(
            "'header' must be a header name (string)",
            source=ctx.source,
            table=ctx.table,
            key="header",
        )
    if query is not None and not isinstance(query, str):
        raise ConfigError(
            "'query' must be a query parameter name (string)",
            source=ctx.source,
            table=ctx.table,
            key="query",
        )
    return ApiKeyAuth(ctx, _reference(ctx, settings, "key"), header=header, query=query)


def _only(ctx: AuthContext, settings: Mapping[str, Any], allowed: set[str]) -> None:
    for key in settings:
        if key not in allowed:
            raise ConfigError(
                f"unknown key for auth scheme '{settings.get('scheme')}'; allowed: {', '.join(sorted(allowed))}",
                source=ctx.source,
                table=ctx.table,
                key=key,
            )
