"""Mutual TLS: ``[connectors.NAME.tls]`` into an ``ssl.SSLContext``, and TLS refusals as ``auth``.

Keys: ``client_cert`` and ``client_key`` (credential references to PEM text; the key may
also sit in the certificate's PEM), ``key_password`` (a reference, for an encrypted key),
``ca_bundle`` (a path to a PEM file or directory of trusted CAs, replacing the system's)
and ``verify`` (default true). Turning verification off is allowed only as an explicit
``verify = false`` and is logged as a WARNING every time a context is built.

``ssl`` loads certificates only from paths, while references resolve to text (the file
source reads the file; env and keyring hold the PEM itself). The text is handed to
OpenSSL through an anonymous in-memory file (``memfd_create``) where the platform has one,
so key material never touches a filesystem; elsewhere through a file created 0600 in a
0700 temporary directory and deleted as soon as OpenSSL has read it. Resolving every
reference the same way keeps rotation, redaction and error messages uniform.
"""

from __future__ import annotations

import logging
import os
import ssl
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from patchwire.auth.attached import remember_trust
from patchwire.auth.audit import report
from patchwire.auth.base import AuthContext
from patchwire.classification import Classification
from patchwire.config import Where, check_reference
from patchwire.errors import Category
from patchwire.events import EventKind

__all__ = ["classify_tls_failure", "tls_context"]

log = logging.getLogger("patchwire.auth")

_KEYS = ("client_cert", "client_key", "key_password", "ca_bundle", "verify")
# Ends of a connection that are not about certificates (a peer hanging up mid-stream).
_NOT_CREDENTIALS = (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLSyscallError)


def tls_context(ctx: AuthContext, settings: Mapping[str, Any]) -> ssl.SSLContext:
    where = Where(ctx.source, ctx.table)
    for name in settings:
        if name not in _KEYS:
            raise where.error(name, f"unknown TLS setting; allowed: {', '.join(_KEYS)}")
    verify = settings.get("verify", True)
    if not isinstance(verify, bool):
        raise where.error("verify", "expected true or false")
    trust = _trust(settings.get("ca_bundle"), verify, where)
    if not verify:
        log.warning(
            "TLS certificate verification is OFF for connector %s (verify = false in [%s]):"
            " any server can impersonate the provider",
            ctx.connector,
            ctx.table,
        )
    schemes = ctx.secrets.schemes
    cert_ref = settings.get("client_cert")
    key_ref = settings.get("client_key")
    password_ref = settings.get("key_password")
    if cert_ref is None:
        for orphan in ("client_key", "key_password"):
            if settings.get(orphan) is not None:
                raise where.error(orphan, "needs client_cert as well")
        remember_trust(trust, trust)
        return trust
    check_reference(cert_ref, "client_cert", where, schemes)
    if key_ref is not None:
        check_reference(key_ref, "client_key", where, schemes)
    if password_ref is not None:
        check_reference(password_ref, "key_password", where, schemes)
    asker = f"connector '{ctx.connector}'"
    cert_pem = ctx.secrets.resolve(cert_ref, where=asker).reveal()
    key_pem = ctx.secrets.resolve(key_ref, where=asker).reveal() if key_ref else None
    password = ctx.secrets.resolve(password_ref, where=asker).reveal() if password_ref else None
    # A twin with the same trust and no certificate serves requests to other origins
    # (a redirect the web connector follows): the certificate is a credential.
    context = _trust(settings.get("ca_bundle"), verify, where)
    try:
        with _readable_paths(cert_pem, key_pem) as paths:
            context.load_cert_chain(paths[0], paths[1] if key_pem is not None else None, password)
    except ssl.SSLError as exc:
        raise where.error(
            "client_key" if key_ref else "client_cert",
            f"client certificate {cert_ref} and key {key_ref or '(in the certificate file)'}"
            f" could not be loaded ({exc.reason or 'not PEM, or they do not match'})",
        ) from None
    report(ctx, EventKind.CREDENTIAL_ACQUIRED, "mutual_tls", certificate=cert_ref)
    remember_trust(context, trust)
    return context


def _trust(ca_bundle: Any, verify: bool, where: Where) -> ssl.SSLContext:
    """A client context trusting the system's CAs and ``ca_bundle``, unverified if asked."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if ca_bundle is not None:
        _load_ca(context, ca_bundle, where)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _load_ca(context: ssl.SSLContext, ca_bundle: Any, where: Where) -> None:
    if not isinstance(ca_bundle, str) or not ca_bundle:
        raise where.error("ca_bundle", "expected the path of a PEM file or directory")
    path = Path(ca_bundle).expanduser()
    try:
        if path.is_dir():
            context.load_verify_locations(capath=str(path))
        elif path.is_file():
            context.load_verify_locations(cafile=str(path))
        else:
            raise where.error("ca_bundle", f"{path} does not exist")
    except (ssl.SSLError, OSError) as exc:
        raise where.error(
            "ca_bundle", f"{path} holds no usable CA certificates ({type(exc).__name__})"
        ) from None


@contextmanager
def _readable_paths(*pems: str | None) -> Iterator[list[str]]:
    """Paths from which OpenSSL can read each PEM text (None skipped), gone when the block ends."""
    texts = [pem.encode("utf-8") for pem in pems if pem is not None]
    if hasattr(os, "memfd_create") and os.path.isdir("/proc/self/fd"):
        fds: list[int] = []
        try:
            for text in texts:
                fd = os.memfd_create("patchwire-tls", os.MFD_CLOEXEC)
                fds.append(fd)
                os.write(fd, text)
            yield [f"/proc/self/fd/{fd}" for fd in fds]
        finally:
            for fd in fds:
                os.close(fd)
        return
    with tempfile.TemporaryDirectory(prefix="patchwire-tls-") as folder:
        paths = []
        for index, text in enumerate(texts):
            path = os.path.join(folder, f"{index}.pem")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(text)
            paths.append(path)
        yield paths


def classify_tls_failure(error: BaseException) -> Classification | None:
    """``auth`` when a TLS failure lies under ``error``: an untrusted server certificate, or
    an alert from a server that refused our client certificate (aiohttp reports the latter
    as a plain ``ClientOSError`` whose cause is the ``SSLError``). None otherwise."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return Classification(
                Category.AUTH,
                f"the server's TLS certificate was not trusted ({current.verify_message});"
                " check ca_bundle",
            )
        if isinstance(current, ssl.SSLError) and not isinstance(current, _NOT_CREDENTIALS):
            reason = current.reason or ""
            if "ALERT" in reason or "CERTIFICATE" in reason:
                return Classification(
                    Category.AUTH,
                    f"the server refused the TLS handshake ({reason}); check client_cert,"
                    " client_key and ca_bundle",
                )
        current = current.__cause__ or current.__context__
    return None
