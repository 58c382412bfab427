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

Rotation without a restart: :func:`client_tls` gives the hub a :class:`ClientTls`, which
the pipeline asks for the context of every attempt. When a ``file:`` source of the
certificate, key or password changed on disk (inode, size or modification time), or a
source with a TTL (``exec:``, a secret manager) returned another value after it, the
references are read again and a new context is built. New connections use it; aiohttp
pools connections per context, so connections opened with the old certificate are not
reused and close when idle (they drain), and no request is cut off. A pair that does not
load (the certificate replaced, the key not yet) keeps the previous context and is tried
again on the next attempt. ``env:`` references are never re-read, so a certificate from
the environment changes only with a restart.
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
from patchwire.certrequest import CERTIFICATE_REQUESTS
from patchwire.classification import Classification
from patchwire.config import Where, check_reference
from patchwire.errors import Category, ConfigError, PatchwireError
from patchwire.events import EventKind
from patchwire.secrets import split_reference

__all__ = ["ClientTls", "classify_tls_failure", "client_tls", "current_context", "tls_context"]

log = logging.getLogger("patchwire.auth")

_KEYS = ("client_cert", "client_key", "key_password", "ca_bundle", "verify")
# Ends of a connection that are not about certificates (a peer hanging up mid-stream).
_NOT_CREDENTIALS = (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLSyscallError)


def tls_context(
    ctx: AuthContext,
    settings: Mapping[str, Any],
    *,
    kind: EventKind = EventKind.CREDENTIAL_ACQUIRED,
) -> ssl.SSLContext:
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
    report(ctx, kind, "mutual_tls", certificate=cert_ref)
    remember_trust(context, trust)
    return context


def client_tls(ctx: AuthContext, settings: Mapping[str, Any]) -> ssl.SSLContext | ClientTls:
    """The connector's TLS: a fixed context without a client certificate, else a
    :class:`ClientTls` that follows the certificate's sources."""
    if settings.get("client_cert") is None:
        return tls_context(ctx, settings)
    return ClientTls(ctx, settings)


def current_context(tls: ssl.SSLContext | ClientTls | None) -> ssl.SSLContext | None:
    """The context for a new attempt, whichever form the connector's TLS takes."""
    if tls is None or isinstance(tls, ssl.SSLContext):
        return tls
    return tls.current()


class ClientTls:
    """A client-certificate context rebuilt when its sources change (see the module doc)."""

    def __init__(self, ctx: AuthContext, settings: Mapping[str, Any]) -> None:
        self._ctx = ctx
        self._settings = dict(settings)
        self._references = [
            ref
            for key in ("client_cert", "client_key", "key_password")
            if isinstance(ref := settings.get(key), str)
        ]
        self._stamps = self._file_stamps()
        self._values = self._resolved()
        self._context = self._build(EventKind.CREDENTIAL_ACQUIRED)
        self.rotations = 0

    def current(self) -> ssl.SSLContext:
        stamps = self._file_stamps()
        if stamps != self._stamps:
            # The file source caches for its TTL; a changed file is read now.
            where = f"connector '{self._ctx.connector}'"
            for reference, stamp in stamps.items():
                if stamp != self._stamps.get(reference):
                    self._reread(reference, where)
        try:
            values = self._resolved()
        except PatchwireError:
            # A source that stopped resolving (a file mid-replacement): keep the context
            # that works, which the server may still accept; the next attempt looks again.
            return self._context
        if values == self._values:
            self._stamps = stamps
            return self._context
        try:
            context = self._build(EventKind.CREDENTIAL_REFRESHED)
        except ConfigError as exc:
            log.warning(
                "connector %s: the rotated client certificate could not be loaded yet (%s);"
                " new connections keep the previous one",
                self._ctx.connector,
                exc.message,
            )
            return self._context
        self._context, self._values, self._stamps = context, values, stamps
        self.rotations += 1
        return context

    def _build(self, kind: EventKind) -> ssl.SSLContext:
        context = tls_context(self._ctx, self._settings, kind=kind)
        CERTIFICATE_REQUESTS.watch(context)
        return context

    def _reread(self, reference: str, where: str) -> None:
        try:
            self._ctx.secrets.reread(reference, where=where)
        except PatchwireError:
            pass  # reported by _resolved's caller: the previous context stays

    def _resolved(self) -> list[str]:
        """The references' values now: a dict lookup until a source's TTL runs out."""
        where = f"connector '{self._ctx.connector}'"
        return [self._ctx.secrets.resolve(ref, where=where).reveal() for ref in self._references]

    def _file_stamps(self) -> dict[str, tuple[int, int, int] | None]:
        stamps: dict[str, tuple[int, int, int] | None] = {}
        for reference in self._references:
            parts = split_reference(reference)
            if parts is None or parts[0] != "file":
                continue
            try:
                info = os.stat(Path(parts[1]).expanduser())
            except OSError:
                stamps[reference] = None
            else:
                stamps[reference] = (info.st_ino, info.st_size, info.st_mtime_ns)
        return stamps

    def __repr__(self) -> str:
        return f"ClientTls(connector={self._ctx.connector!r}, certificate={self._settings['client_cert']!r})"


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
