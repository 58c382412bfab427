"""Service accounts: a signed JWT assertion exchanged for an access token (RFC 7523 §2.1).

The key comes either from a service-account key file in Google's JSON shape
(``client_email``, ``private_key``, ``token_uri``, ``private_key_id``) or from a PEM private
key reference plus an issuer and a token URL. The assertion is signed with joserfc
(authlib.jose is deprecated); the token it buys is cached and refreshed exactly like a
client-credentials token.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
from authlib.oauth2.rfc6749.parameters import (  # type: ignore[import-untyped]
    prepare_token_request,
)
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from patchwire.auth.base import AuthContext, AuthScheme
from patchwire.auth.oauth2 import AuthSettings, TokenEndpoint, TokenScheme
from patchwire.auth.tokens import AccessToken
from patchwire.errors import AuthError

__all__ = ["GRANT_TYPE", "JwtBearer", "SigningKey", "jwt_bearer_auth"]

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_DEFAULT_LIFETIME = 3600.0
_EC_ALGORITHMS = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
_RSA_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")


@attrs.frozen
class SigningKey:
    """A parsed private key, the algorithm it signs with, and who it speaks for."""

    key: RSAKey | ECKey = attrs.field(repr=False)
    algorithm: str
    issuer: str
    key_id: str | None = None
    token_uri: str | None = None


def parse_pem(pem: str, *, reference: str, algorithm: str | None) -> tuple[RSAKey | ECKey, str]:
    """The joserfc key for a PEM private key and its signing algorithm.

    Errors name the reference, never any of the key's text.
    """
    try:
        raw = load_pem_private_key(pem.encode("utf-8"), password=None)
    except (ValueError, TypeError):
        raise AuthError(
            f"{reference} is not an unencrypted PEM private key (PKCS#8 or traditional)"
        ) from None
    if isinstance(raw, rsa.RSAPrivateKey):
        chosen = algorithm or "RS256"
        if chosen not in _RSA_ALGORITHMS:
            raise AuthError(f"{reference} is an RSA key; it cannot sign with {chosen}")
        return RSAKey.import_key(raw), chosen
    if isinstance(raw, ec.EllipticCurvePrivateKey):
        expected = _EC_ALGORITHMS.get(raw.curve.name)
        if expected is None:
            raise AuthError(f"{reference} is an EC key on unsupported curve {raw.curve.name}")
        if algorithm is not None and algorithm != expected:
            raise AuthError(f"{reference} is a {raw.curve.name} key; it signs with {expected}")
        return ECKey.import_key(raw), expected
    raise AuthError(f"{reference} holds a {type(raw).__name__}; use an RSA or EC private key")


def parse_service_account(
    text: str, *, reference: str, algorithm: str | None
) -> tuple[SigningKey, str]:
    """A Google-shaped service-account key file: the signing key and its private key text."""
    try:
        data = json.loads(text)
    except ValueError:
        raise AuthError(f"{reference} is not JSON (expected a service-account key file)") from None
    if not isinstance(data, dict):
        raise AuthError(f"{reference} is not a JSON object (expected a service-account key file)")
    fields = {}
    for name in ("client_email", "private_key"):
        value = data.get(name)
        if not isinstance(value, str) or not value:
            raise AuthError(f"{reference} has no '{name}' string; is it a service-account key?")
        fields[name] = value
    key, chosen = parse_pem(fields["private_key"], reference=reference, algorithm=algorithm)
    key_id = data.get("private_key_id")
    token_uri = data.get("token_uri")
    signing = SigningKey(
        key,
        chosen,
        fields["client_email"],
        key_id if isinstance(key_id, str) and key_id else None,
        token_uri if isinstance(token_uri, str) and token_uri else None,
    )
    return signing, fields["private_key"]


class JwtBearer(TokenScheme):
    """Signs an assertion as the service account and trades it for a bearer token."""

    name = "jwt_bearer"
    # RFC 7523 §3.1: an assertion the server cannot verify (signed by a key it no longer
    # holds) is answered invalid_grant; invalid_client where the assertion authenticates.
    rotated_on = frozenset({"invalid_client", "invalid_grant"})

    def __init__(
        self,
        ctx: AuthContext,
        endpoint: TokenEndpoint,
        *,
        key_reference: str,
        key_format: str,
        issuer: str | None = None,
        subject: str | None = None,
        audience: str | None = None,
        scopes: Sequence[str] = (),
        algorithm: str | None = None,
        lifetime: float = _DEFAULT_LIFETIME,
        leeway: float = 60.0,
    ) -> None:
        super().__init__(ctx, endpoint, leeway=leeway)
        self.key_reference = key_reference
        self.key_format = key_format  # "service_account" or "pem"
        self.issuer = issuer
        self.subject = subject
        self.audience = audience
        self.scopes = tuple(scopes)
        self.algorithm = algorithm
        self.lifetime = lifetime
        self._parsed: tuple[str, SigningKey] | None = None

    def _references(self) -> Sequence[str]:
        return [self.key_reference]

    def signing_key(self) -> SigningKey:
        """The key behind the reference, parsed again only when the secret rotated."""
        text = self._secret(self.key_reference)
        if self._parsed is not None and self._parsed[0] == text:
            return self._parsed[1]
        if self.key_format == "service_account":
            signing, private_key = parse_service_account(
                text, reference=self.key_reference, algorithm=self.algorithm
            )
            self._ctx.secrets.protect(private_key)
        else:
            key, chosen = parse_pem(text, reference=self.key_reference, algorithm=self.algorithm)
            assert self.issuer is not None
            signing = SigningKey(key, chosen, self.issuer)
        self._parsed = (text, signing)
        return signing

    def assertion(self, signing: SigningKey) -> str:
        # iat and exp are read by the authorization server against its own clock, so they
        # are wall-clock seconds; the hub's clock only times the token's reuse.
        issued = int(time.time())
        claims: dict[str, Any] = {
            "iss": signing.issuer,
            "aud": self.audience or self.endpoint.url,
            "iat": issued,
            "exp": issued + int(self.lifetime),
            "jti": secrets.token_urlsafe(24),
        }
        if self.subject:
            claims["sub"] = self.subject
        if self.scopes:
            # Google reads the scope from the assertion; RFC 7523 servers from the form.
            claims["scope"] = " ".join(self.scopes)
        header: dict[str, Any] = {"alg": signing.algorithm, "typ": "JWT"}
        if signing.key_id:
            header["kid"] = signing.key_id
        token = jwt.encode(header, claims, signing.key, algorithms=[signing.algorithm])
        self._ctx.secrets.protect(token)
        return token

    async def _request(self) -> AccessToken:
        try:
            signing = self.signing_key()
        except AuthError as exc:
            exc.connector = exc.connector or self._ctx.connector
            raise
        form = prepare_token_request(
            GRANT_TYPE, assertion=self.assertion(signing), scope=list(self.scopes) or None
        )
        return await self.endpoint.request(str(form), {})

    def describe(self) -> Mapping[str, str]:
        out = {**super().describe(), "key": self.key_reference, "key_format": self.key_format}
        if self.issuer:
            out["issuer"] = self.issuer
        if self.subject:
            out["subject"] = self.subject
        if self.scopes:
            out["scopes"] = " ".join(self.scopes)
        return out


def jwt_bearer_auth(ctx: AuthContext, settings: Mapping[str, Any]) -> AuthScheme:
    """``scheme = "jwt_bearer"``: either ``key_file`` (a service-account JSON reference) or
    ``private_key`` (a PEM reference) with ``issuer`` and ``token_url``; optional
    ``token_url`` override, ``subject``, ``audience``, ``scopes``, ``algorithm``,
    ``lifetime`` (assertion seconds), ``leeway`` and ``timeout``."""
    s = AuthSettings(
        ctx,
        settings,
        (
            "key_file",
            "private_key",
            "issuer",
            "subject",
            "token_url",
            "audience",
            "scopes",
            "algorithm",
            "lifetime",
            "leeway",
            "timeout",
        ),
    )
    key_file = s.reference("key_file", required=False)
    private_key = s.reference("private_key", required=False)
    if (key_file is None) == (private_key is None):
        raise s.where.error(
            "key_file",
            "give exactly one of 'key_file' (a service-account JSON key reference) or"
            " 'private_key' (a PEM key reference, with 'issuer' and 'token_url')",
        )
    algorithm = s.text("algorithm")
    if algorithm is not None and algorithm not in (*_RSA_ALGORITHMS, *_EC_ALGORITHMS.values()):
        raise s.where.error(
            "algorithm",
            f"expected one of {', '.join((*_RSA_ALGORITHMS, *_EC_ALGORITHMS.values()))}",
        )
    timeout = s.number("timeout", 30.0, minimum=0.001)
    token_url = s.url("token_url", required=private_key is not None)
    issuer = s.text("issuer", required=private_key is not None)
    if key_file is not None:
        token_url = token_url or _service_account_token_uri(ctx, key_file, s)
    assert token_url is not None
    lifetime = s.number("lifetime", _DEFAULT_LIFETIME, minimum=1.0)
    return JwtBearer(
        ctx,
        TokenEndpoint(ctx, token_url, timeout=timeout),
        key_reference=key_file or private_key or "",
        key_format="service_account" if key_file is not None else "pem",
        issuer=issuer,
        subject=s.text("subject"),
        audience=s.text("audience"),
        scopes=s.scopes(),
        algorithm=algorithm,
        lifetime=lifetime,
        leeway=s.number("leeway", 60.0),
    )


def _service_account_token_uri(ctx: AuthContext, reference: str, s: AuthSettings) -> str:
    """The key file's ``token_uri``, read once at load so a wrong file fails early."""
    signing, _ = parse_service_account(
        ctx.secrets.resolve(reference, where=f"connector '{ctx.connector}'").reveal(),
        reference=reference,
        algorithm=s.text("algorithm"),
    )
    if signing.token_uri is None:
        raise s.where.error(
            "token_url", f"{reference} has no 'token_uri'; set token_url in the auth table"
        )
    return s.url_value("token_url", signing.token_uri)
