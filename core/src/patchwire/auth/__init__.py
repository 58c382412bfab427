"""Authentication: schemes that attach credentials to an attempt, and refresh them.

Static keys live here; the token schemes (``patchwire.auth.oauth2``,
``patchwire.auth.jwt_bearer``) and mutual TLS (``patchwire.auth.tls``) are imported on
first use, since they pull in authlib, joserfc and cryptography.
"""

from patchwire.auth.base import AuthContext, AuthFactory, AuthScheme, NoAuth
from patchwire.auth.keys import ApiKeyAuth, BearerAuth
from patchwire.auth.tokens import AccessToken, TokenCache

__all__ = [
    "AccessToken",
    "ApiKeyAuth",
    "AuthContext",
    "AuthFactory",
    "AuthScheme",
    "BearerAuth",
    "NoAuth",
    "TokenCache",
]
