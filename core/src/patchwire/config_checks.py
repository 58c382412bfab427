"""Checks every connector table gets at load, whatever its type: no literal credential in
``[auth]`` or ``[tls]``, TLS settings that will work, a base URL without credentials in it,
and names that can be addressed as ``"connector:model"``."""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from patchwire.config_values import Where, check_keys, check_reference, env_name, read, shown

__all__ = ["SECRET_SETTINGS", "check_auth", "check_base_url", "check_name", "check_tls"]


#: Auth settings that hold a credential under every scheme, core's or a plugin's; a scheme
#: adds its own with ``register.scheme(name, factory, secrets=[...])``.
SECRET_SETTINGS = frozenset(
    {
        "token",
        "key",
        "api_key",
        "password",
        "secret",
        "client_secret",
        "private_key",
        "key_file",
        "refresh_token",
        "access_token",
    }
)
_TLS_KEYS = ("client_cert", "client_key", "key_password", "ca_bundle", "verify")


def check_auth(
    auth: Any,
    name: str,
    where: Where,
    schemes: Mapping[str, object],
    auth_secrets: Mapping[str, Collection[str]],
) -> None:
    """The scheme is named, and every secret setting is a reference (never a literal)."""
    if not isinstance(auth, Mapping):
        raise where.error("auth", "expected a table ([connectors.NAME.auth]) with a 'scheme' key")
    w = where.child("auth")
    scheme = auth.get("scheme")
    if not isinstance(scheme, str):
        raise w.error(
            "scheme", "expected the auth scheme's name (e.g. 'bearer', 'oauth2_client_credentials')"
        )
    # auth_secrets has an entry for every installed scheme (empty when given no registry).
    if auth_secrets and scheme not in auth_secrets:
        installed = sorted(auth_secrets)
        close = difflib.get_close_matches(scheme, installed, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise w.error(
            "scheme",
            f"unknown auth scheme ({shown(scheme)}).{hint} Installed schemes:"
            f" {', '.join(installed)}; a plugin may provide others",
        )
    secret = SECRET_SETTINGS | frozenset(auth_secrets.get(scheme, ()))
    for key in auth:
        if key in secret:
            check_reference(auth[key], key, w, schemes, suggest=env_name(name, key))


def check_tls(tls: Any, where: Where, schemes: Mapping[str, object]) -> None:
    """``[connectors.NAME.tls]`` checked at load; the context itself is built on first use."""
    if not isinstance(tls, Mapping):
        raise where.error("tls", "expected a table ([connectors.NAME.tls])")
    w = where.child("tls")
    check_keys(tls, _TLS_KEYS, w)
    read(tls, "verify", (bool,), True, w)
    ca_bundle = read(tls, "ca_bundle", (str,), None, w)
    if ca_bundle is not None and not Path(ca_bundle).expanduser().exists():
        raise w.error(
            "ca_bundle",
            "names no existing file or directory; give a PEM file or a directory of CA certificates",
        )
    for key in ("client_cert", "client_key", "key_password"):
        if key in tls:
            check_reference(tls[key], key, w, schemes)
    if "client_cert" not in tls:
        for orphan in ("client_key", "key_password"):
            if orphan in tls:
                raise w.error(orphan, "needs client_cert as well")


def check_base_url(url: str, where: Where) -> None:
    """An http(s) URL with a host, and no credentials in it (they belong in [auth])."""
    problem = None
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a port that is not a number in 0..65535
    except ValueError:
        problem = "is not a valid URL (check the host and port)"
    else:
        if parts.scheme not in ("http", "https") or not parts.hostname:
            problem = "expected an http(s) URL such as 'https://api.example.com/v1'"
        elif parts.username is not None or parts.password is not None:
            problem = (
                "must not carry a user name or password ('user:secret@host'): put the"
                " credential in a secret store and reference it from [connectors.NAME.auth]"
                " or api_key"
            )
    if problem is not None:
        raise where.error("base_url", f"{problem}; got {shown(url)}")


def check_name(name: Any, where: Where, kind: str) -> None:
    """Connector and route names appear in "connector:model", so they cannot hold ':'."""
    if not isinstance(name, str) or not name or ":" in name or name != name.strip():
        raise where.error(
            str(name),
            f"a {kind} name must be a non-empty name without ':' or surrounding spaces"
            ' (models are addressed as "connector:model"); rename the table',
        )
