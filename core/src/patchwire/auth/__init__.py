"""Authentication: schemes that attach credentials to an attempt, and refresh them."""

from patchwire.auth.base import AuthContext, AuthFactory, AuthScheme, NoAuth
from patchwire.auth.keys import ApiKeyAuth, BearerAuth

__all__ = ["ApiKeyAuth", "AuthContext", "AuthFactory", "AuthScheme", "BearerAuth", "NoAuth"]
