"""OAuth2 client credentials (RFC 6749 §4.4), and the token-endpoint exchange JWT bearer shares.

authlib has no aiohttp client, so its framework-free parts build the request
(``prepare_token_request`` for the form, ``ClientAuth`` for basic or post client
authentication) and the hub's own aiohttp session sends it. Expiry is tracked by
:class:`~patchwire.auth.tokens.TokenCache` on the hub's clock rather than by authlib's
``OAuth2Token``, which reads the wall clock.

Token-endpoint failures are classified here, because the pipeline only ever sees the
error ``apply`` raises: a refused client is ``auth`` (fail fast, escalate), a server error
or timeout is ``transient`` (the pipeline retries), a 200 that is not a token response is
``integration``. No message carries a credential or a response body.
"""

from __future__ import annotations

import ipaddress
import json
import re
import ssl
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from secrets import token_urlsafe
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
from authlib.common.urls import add_params_to_qs  # type: ignore[import-untyped]
from authlib.oauth2.auth import ClientAuth  # type: ignore[import-untyped]
from authlib.oauth2.rfc6749.parameters import (  # type: ignore[import-untyped]
    prepare_token_request,
)

from patchwire.auth.audit import report
from patchwire.auth.base import AuthContext, AuthScheme
from patchwire.auth.tokens import AccessToken, TokenCache
from patchwire.clock import deadline_scope
from patchwire.config import Where, check_reference
from patchwire.errors import (
    AuthError,
    IntegrationError,
    PatchwireError,
    RateLimitedError,
    TransientError,
)
from patchwire.events import EventKind
from patchwire.redact import redact_url
from patchwire.retry import parse_retry_after
from patchwire.secrets import Secret, split_reference

__all__ = [
    "AuthSettings",
    "OAuth2ClientCredentials",
    "TokenEndpoint",
    "TokenScheme",
    "oauth2_client_credentials_auth",
]

_FORM = "application/x-www-form-urlencoded"
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_MAX_BODY = 256 * 1024
_ERROR_CODE = re.compile(r"^[\x20-\x7e]{1,64}$")
# RFC 6749 §5.2 codes that say the client or its grant is refused: a retry cannot help.
_REFUSED = frozenset(
    {
        "invalid_client",
        "unauthorized_client",
        "invalid_grant",
        "invalid_scope",
        "unsupported_grant_type",
        "invalid_request",
        "invalid_target",
        "access_denied",
    }
)
_RETRY_STATUSES = frozenset({408, 425, 429})
_DEFAULT_LEEWAY = 60.0
_DEFAULT_TIMEOUT = 30.0


class TokenEndpoint:
    """POSTs a token request over the hub's session and turns the answer into a token or an error."""

    def __init__(self, ctx: AuthContext, url: str, *, timeout: float) -> None:
        self._ctx = ctx
        self.url = url
        self.timeout = timeout

    async def request(self, form: str, headers: Mapping[str, str]) -> AccessToken:
        ctx = self._ctx
        sent = {"Content-Type": _FORM, "Accept": "application/json", **headers}
        try:
            with deadline_scope(ctx.clock, ctx.clock.now() + self.timeout):
                async with ctx.session().post(
                    self.url, data=form.encode("utf-8"), headers=sent, allow_redirects=False
                ) as resp:
                    body = await _read_bounded(resp)
                    status = resp.status
                    retry_after = parse_retry_after(resp.headers)
        except TimeoutError:
            raise self._error(
                TransientError, f"did not answer within {self.timeout:g} s", None
            ) from None
        except (
            aiohttp.ClientConnectorCertificateError,
            aiohttp.ClientSSLError,
            ssl.SSLError,
        ) as exc:
            raise self._error(
                AuthError, f"failed the TLS handshake ({type(exc).__name__})", None
            ) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise self._error(
                TransientError, f"could not be reached ({type(exc).__name__}: {exc})", None
            ) from None
        if len(body) > _MAX_BODY:
            raise self._error(
                IntegrationError, f"answered with a body over {_MAX_BODY} bytes", status
            )
        if 200 <= status < 300:
            return self._token(body, status)
        raise self._failure(status, body, retry_after)

    def _token(self, body: bytes, status: int) -> AccessToken:
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise self._error(
                IntegrationError, "answered with a body that is not JSON", status
            ) from None
        if not isinstance(data, dict):
            raise self._error(IntegrationError, "answered with JSON that is not an object", status)
        # Hide every credential in the answer before anything can print it.
        for field in ("access_token", "refresh_token", "id_token"):
            value = data.get(field)
            if isinstance(value, str) and value:
                self._ctx.secrets.protect(value)
        access = data.get("access_token")
        if not isinstance(access, str) or not access:
            raise self._error(IntegrationError, "answered without an 'access_token' string", status)
        token_type = data.get("token_type", "Bearer")
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            shown = token_type if isinstance(token_type, str) else type(token_type).__name__
            raise self._error(
                IntegrationError,
                f"granted a token of type {shown[:32]!r}; only bearer tokens are supported",
                status,
            )
        try:
            expires_in = _lifetime(data.get("expires_in"))
        except ValueError:
            raise self._error(
                IntegrationError,
                "answered with an 'expires_in' that is not a positive number",
                status,
            ) from None
        scope = data.get("scope")
        refresh = data.get("refresh_token")
        return AccessToken(
            Secret(access, f"token from {self.url}"),
            "Bearer",
            expires_in,
            scope if isinstance(scope, str) else None,
            Secret(refresh, f"refresh token from {self.url}")
            if isinstance(refresh, str) and refresh
            else None,
        )

    def _failure(self, status: int, body: bytes, retry_after: float | None) -> PatchwireError:
        code, description = _oauth_error(body)
        said = f" ({code}: {description})" if code and description else f" ({code})" if code else ""
        said = self._ctx.secrets.redact(said)
        if status == 429:
            error = self._error(RateLimitedError, f"is rate limiting token requests{said}", status)
            error.retry_after = retry_after
        elif status >= 500 or status in _RETRY_STATUSES:
            error = self._error(TransientError, f"failed with HTTP {status}{said}", status)
            error.retry_after = retry_after
        elif code in _REFUSED or status in (401, 403):
            error = self._error(AuthError, f"refused the token request{said}", status)
        else:
            error = self._error(
                AuthError,
                f"answered HTTP {status}{said}; check the token endpoint URL and the grant",
                status,
            )
        error.code = code
        return error

    def _error(self, cls: type[PatchwireError], what: str, status: int | None) -> PatchwireError:
        return cls(
            f"token endpoint {redact_url(self.url)} {what}",
            connector=self._ctx.connector,
            status=status,
        )


async def _read_bounded(resp: aiohttp.ClientResponse) -> bytes:
    """The body, or its first ``_MAX_BODY + 1`` bytes: enough to tell it is too large."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(65536):
        chunks.append(chunk)
        size += len(chunk)
        if size > _MAX_BODY:
            break
    return b"".join(chunks)


def _lifetime(value: Any) -> float | None:
    """``expires_in`` as seconds, None when absent; ValueError when present but unusable."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("expires_in is not a number")
    seconds = float(value)
    if not 0 < seconds < float("inf"):
        raise ValueError("expires_in is not a positive number")
    return seconds


def _oauth_error(body: bytes) -> tuple[str | None, str | None]:
    """The RFC 6749 §5.2 ``error`` and ``error_description``, when the body has them."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None, None
    if not isinstance(data, dict):
        return None, None
    code = data.get("error")
    description = data.get("error_description")
    code = code if isinstance(code, str) and _ERROR_CODE.match(code) else None
    if isinstance(description, str) and description:
        return code, " ".join(description.split())[:300]
    return code, None


class TokenScheme(ABC):
    """An auth scheme backed by a token endpoint: bearer tokens from a shared cache.

    Subclasses say how one token request is made (``_request``) and which credential
    references it reads (``_references``), so a refused client can be retried after its
    secret was rotated in place.
    """

    name = "token"
    # The endpoint's error codes that say our own credential was refused, after which the
    # credential is read again and, when it rotated, the request is sent once more.
    rotated_on: frozenset[str] = frozenset({"invalid_client"})

    def __init__(self, ctx: AuthContext, endpoint: TokenEndpoint, *, leeway: float) -> None:
        self._ctx = ctx
        self.endpoint = endpoint
        self.cache = TokenCache(ctx.clock, self._obtain, leeway=leeway)
        self._refused = False
        self._acquired = False

    async def apply(self, headers: dict[str, str], params: dict[str, str]) -> None:
        token = await self.cache.get()
        headers["Authorization"] = token.authorization()

    async def refresh(self) -> bool:
        if self._refused:
            # The endpoint refused our own credential: only a rotated one can change that.
            return self._reread_credentials()
        await self.cache.refresh()
        return True

    async def check(self) -> str:
        """For ``patchwire doctor``: obtains a token, or raises the error that prevented it."""
        token = await self.cache.get()
        lifetime = f", expires in {token.expires_in:g} s" if token.expires_in else ""
        return f"obtained from {redact_url(self.endpoint.url)}{lifetime}"

    def ssl_context(self) -> ssl.SSLContext | None:
        return None

    def describe(self) -> Mapping[str, str]:
        return {"scheme": self.name, "token_url": redact_url(self.endpoint.url)}

    async def aclose(self) -> None:
        await self.cache.aclose()

    @abstractmethod
    async def _request(self) -> AccessToken:
        """Send one token request."""

    @abstractmethod
    def _references(self) -> Sequence[str]:
        """The credential references a token request reads."""

    async def _obtain(self) -> AccessToken:
        ctx = self._ctx
        url = redact_url(self.endpoint.url)
        try:
            token = await self._request_rotating()
        except PatchwireError as exc:
            self._refused = isinstance(exc, AuthError)
            report(
                ctx,
                EventKind.CREDENTIAL_FAILED,
                self.name,
                message=exc.message,
                category=exc.category.value,
                endpoint=url,
            )
            raise
        kind = EventKind.CREDENTIAL_REFRESHED if self._acquired else EventKind.CREDENTIAL_ACQUIRED
        self._acquired = True
        self._refused = False
        report(ctx, kind, self.name, endpoint=url, expires_in=token.expires_in)
        return token

    async def _request_rotating(self) -> AccessToken:
        """One token request, and one more when the endpoint refused a credential that has
        since rotated in its source. This runs inside the token cache's single flight, so
        however many calls wait on the token, the secret is re-read once."""
        try:
            return await self._request()
        except AuthError as exc:
            if exc.code not in self.rotated_on or not self._reread_credentials(rejected=True):
                raise
        return await self._request()

    def _secret(self, reference: str) -> str:
        return self._ctx.secrets.resolve(
            reference, where=f"connector '{self._ctx.connector}'"
        ).reveal()

    def _reread_credentials(self, *, rejected: bool = False) -> bool:
        secrets = self._ctx.secrets
        where = f"connector '{self._ctx.connector}'"
        changed = False
        for reference in self._references():
            if not secrets.can_refresh(reference):
                continue
            # The value just sent was refused: a source keeping versions (AWSPENDING beside
            # AWSCURRENT) then offers the other one.
            sent = secrets.resolve(reference, where=where).reveal() if rejected else None
            if secrets.reread(reference, where=where, rejected=sent):
                changed = True
        if changed:
            self._refused = False
        return changed


class OAuth2ClientCredentials(TokenScheme):
    """RFC 6749 §4.4: the connector's own client id and secret buy a bearer token."""

    name = "oauth2_client_credentials"

    def __init__(
        self,
        ctx: AuthContext,
        endpoint: TokenEndpoint,
        *,
        client_id: str,
        client_secret: str,
        scopes: Sequence[str] = (),
        audience: str | None = None,
        client_auth: str = "basic",
        leeway: float = _DEFAULT_LEEWAY,
    ) -> None:
        super().__init__(ctx, endpoint, leeway=leeway)
        self.client_id = client_id  # a literal id or a reference
        self.client_secret = client_secret  # a reference
        self.scopes = tuple(scopes)
        self.audience = audience
        self.client_auth = client_auth

    def _references(self) -> Sequence[str]:
        refs = [self.client_secret]
        if self._is_reference(self.client_id):
            refs.append(self.client_id)
        return refs

    def _is_reference(self, value: str) -> bool:
        parts = split_reference(value)
        return parts is not None and parts[0] in self._ctx.secrets.schemes

    async def _request(self) -> AccessToken:
        client_id = (
            self._secret(self.client_id) if self._is_reference(self.client_id) else self.client_id
        )
        secret = self._secret(self.client_secret)
        form = prepare_token_request(
            "client_credentials",
            scope=list(self.scopes) or None,
            audience=self.audience,
        )
        headers: dict[str, str] = {}
        if self.client_auth == "private_key_jwt":
            # RFC 7523 §2.2: client_secret is the PEM key that signs the client's assertion.
            form = add_params_to_qs(str(form), self._client_assertion(client_id, secret))
            return await self.endpoint.request(str(form), headers)
        if self.client_auth == "basic":
            # RFC 6749 §2.3.1: both parts are form-encoded before Basic, which keeps any
            # character (':' in an id, non-Latin-1 in a secret) intact.
            auth = ClientAuth(
                quote(client_id, safe=""), quote(secret, safe=""), "client_secret_basic"
            )
        else:
            auth = ClientAuth(client_id, secret, "client_secret_post")
        _, headers, form = auth.prepare("POST", self.endpoint.url, headers, form)
        return await self.endpoint.request(str(form), dict(headers))

    def _client_assertion(self, client_id: str, pem: str) -> list[tuple[str, str]]:
        from joserfc import jwt

        from patchwire.auth.jwt_bearer import parse_pem

        key, algorithm = parse_pem(pem, reference=self.client_secret, algorithm=None)
        issued = int(time.time())  # read by the server against its own (wall) clock
        claims = {
            "iss": client_id,
            "sub": client_id,
            "aud": self.endpoint.url,
            "iat": issued,
            "exp": issued + 300,
            "jti": token_urlsafe(24),
        }
        assertion = jwt.encode({"alg": algorithm, "typ": "JWT"}, claims, key)
        self._ctx.secrets.protect(assertion)
        return [
            ("client_id", client_id),
            ("client_assertion_type", CLIENT_ASSERTION_TYPE),
            ("client_assertion", assertion),
        ]

    def describe(self) -> Mapping[str, str]:
        out = {
            **super().describe(),
            # A client id is a public identifier (RFC 6749 §2.2), shown as configured.
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "client_auth": self.client_auth,
        }
        if self.scopes:
            out["scopes"] = " ".join(self.scopes)
        if self.audience:
            out["audience"] = self.audience
        return out


# --- configuration ---------------------------------------------------------------------


class AuthSettings:
    """Reads one ``[connectors.NAME.auth]`` table, each problem a ``ConfigError`` naming its key."""

    def __init__(self, ctx: AuthContext, raw: Mapping[str, Any], allowed: Sequence[str]) -> None:
        self.ctx = ctx
        self.raw = raw
        self.where = Where(ctx.source, ctx.table)
        for key in raw:
            if key not in allowed and key != "scheme":
                raise self.where.error(
                    key,
                    f"unknown key for auth scheme '{raw.get('scheme')}'; allowed:"
                    f" {', '.join(sorted(allowed))}",
                )

    def reference(self, key: str, *, required: bool = True) -> str | None:
        value = self.raw.get(key)
        if value is None and not required:
            return None
        return check_reference(value, key, self.where, self.ctx.secrets.schemes)

    def text(self, key: str, *, required: bool = False) -> str | None:
        value = self.raw.get(key)
        if value is None:
            if required:
                raise self.where.error(key, "is required")
            return None
        if not isinstance(value, str) or not value:
            raise self.where.error(key, "expected a non-empty string")
        return value

    def url(self, key: str, *, required: bool = True) -> str | None:
        value = self.text(key, required=required)
        return None if value is None else self.url_value(key, value)

    def url_value(self, key: str, value: str) -> str:
        """``value`` (from ``key`` or a file it names) if it is a usable token-endpoint URL."""
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise self.where.error(key, "expected an http(s) URL of the token endpoint")
        if parts.scheme == "http" and not _loopback(parts.hostname):
            raise self.where.error(
                key,
                "must use https: credentials would cross the network in clear text"
                " (plain http is accepted only for loopback addresses)",
            )
        return value

    def number(self, key: str, default: float, *, minimum: float = 0.0) -> float:
        value = self.raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
            raise self.where.error(key, f"expected a number >= {minimum:g}")
        return float(value)

    def scopes(self, key: str = "scopes") -> tuple[str, ...]:
        value = self.raw.get(key)
        if value is None:
            return ()
        if isinstance(value, str):
            return tuple(value.split())
        if isinstance(value, list) and all(isinstance(v, str) and v for v in value):
            return tuple(value)
        raise self.where.error(key, "expected a list of scope names or one space-separated string")

    def choice(self, key: str, options: Sequence[str], default: str) -> str:
        value = self.raw.get(key, default)
        if value not in options:
            raise self.where.error(key, f"expected one of {', '.join(map(repr, options))}")
        return str(value)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def oauth2_client_credentials_auth(ctx: AuthContext, settings: Mapping[str, Any]) -> AuthScheme:
    """``scheme = "oauth2_client_credentials"``: token_url, client_id, client_secret, scopes,
    audience, client_auth ("basic", "post", or "private_key_jwt": client_secret is then the
    PEM key that signs an RFC 7523 client assertion), leeway and timeout (seconds)."""
    s = AuthSettings(
        ctx,
        settings,
        (
            "token_url",
            "client_id",
            "client_secret",
            "scopes",
            "audience",
            "client_auth",
            "leeway",
            "timeout",
        ),
    )
    url = s.url("token_url")
    client_id = s.text("client_id", required=True)
    secret = s.reference("client_secret")
    assert url is not None and client_id is not None and secret is not None
    endpoint = TokenEndpoint(ctx, url, timeout=s.number("timeout", _DEFAULT_TIMEOUT, minimum=0.001))
    return OAuth2ClientCredentials(
        ctx,
        endpoint,
        client_id=client_id,
        client_secret=secret,
        scopes=s.scopes(),
        audience=s.text("audience"),
        client_auth=s.choice("client_auth", ("basic", "post", "private_key_jwt"), "basic"),
        leeway=s.number("leeway", _DEFAULT_LEEWAY),
    )
