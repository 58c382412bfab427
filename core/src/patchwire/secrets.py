"""Secrets: a value type that never shows itself, references, and the sources behind them.

Configuration holds references (``env:NAME``, ``file:/path``, ``keyring:service/user`` or a
plugin's scheme), never values. A :class:`SecretResolver` turns references into
:class:`Secret` objects, re-reads them when a source's TTL says they may have rotated, and
registers every value it loads with the hub's :class:`~patchwire.redact.Redactor`.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

import attrs

from patchwire.clock import Clock
from patchwire.errors import AuthError
from patchwire.redact import Redactor

__all__ = [
    "EnvSource",
    "FileSource",
    "Secret",
    "SecretNotFound",
    "SecretResolver",
    "RotatingSource",
    "SecretSource",
    "is_reference",
    "split_reference",
]

log = logging.getLogger("patchwire.auth")

_REF = re.compile(r"^([a-z][a-z0-9+.-]*):(.+)$", re.DOTALL)


class Secret:
    """A credential value. ``repr``/``str`` show only where it came from.

    Call :meth:`reveal` at the last moment, where the value goes on the wire.
    """

    __slots__ = ("_value", "reference")

    def __init__(self, value: str, reference: str = "") -> None:
        self._value = value
        self.reference = reference

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({self.reference or 'literal'}, ****)"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self.reference))

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Secret cannot be pickled; pass its reference instead")


class SecretNotFound(Exception):
    """Raised by a source: the message names the source and what was missing, never a value."""


class SecretSource(Protocol):
    """Where references of one scheme are read from.

    ``ttl`` (seconds) says how long a value may be used before it is read again, so a
    rotated secret is picked up without a restart; None means read once.
    """

    scheme: str
    ttl: float | None

    def load(self, body: str) -> str: ...


class RotatingSource(SecretSource, Protocol):
    """A source that keeps more than one version of a value while it rotates (a secret
    manager's pending version beside the current one).

    After a server refused ``rejected``, the resolver asks this instead of :meth:`load`
    for the value to try next, so calls keep working in the window where the service has
    switched to the new credential but the store has not yet made it current.
    """

    def load_after_rejection(self, body: str, rejected: str) -> str: ...


@attrs.define
class EnvSource:
    """``env:NAME``: the process environment, read at first use and never re-read.

    No one outside the process can change its environment, so a re-read could only return
    the same value: rotating an ``env:`` credential takes a restart (``ttl`` None also tells
    the auth schemes not to retry a refused credential). Credentials that rotate belong in
    ``file:``, ``exec:`` or a secret manager.
    """

    scheme: str = "env"
    ttl: float | None = None
    environ: Mapping[str, str] = attrs.field(factory=lambda: os.environ)

    def load(self, body: str) -> str:
        value = self.environ.get(body)
        if value is None:
            raise SecretNotFound(f"environment variable {body} is not set")
        if not value:
            raise SecretNotFound(f"environment variable {body} is empty")
        return value


@attrs.define
class FileSource:
    """Mounted secrets (Docker, Kubernetes): the file's text, trailing newline stripped.

    Re-read every ``ttl`` seconds because orchestrators rotate them in place.
    """

    scheme: str = "file"
    ttl: float | None = 60.0

    def load(self, body: str) -> str:
        path = Path(body).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SecretNotFound(f"file {path} does not exist") from None
        except PermissionError:
            raise SecretNotFound(f"file {path} is not readable by this process") from None
        except IsADirectoryError:
            raise SecretNotFound(f"{path} is a directory, not a file") from None
        except OSError as exc:
            raise SecretNotFound(f"file {path} could not be read ({exc.strerror})") from None
        value = text.rstrip("\r\n")
        if not value:
            raise SecretNotFound(f"file {path} is empty")
        return value


def split_reference(value: str) -> tuple[str, str] | None:
    match = _REF.match(value)
    if match is None:
        return None
    return match.group(1), match.group(2)


def is_reference(value: str, schemes: Mapping[str, object]) -> bool:
    parts = split_reference(value)
    return parts is not None and parts[0] in schemes


@attrs.define
class _Cached:
    secret: Secret
    loaded_at: float
    ttl: float | None


class SecretResolver:
    """Resolves references through the registered sources, with TTL re-reads."""

    def __init__(
        self,
        sources: Mapping[str, SecretSource],
        clock: Clock,
        redactor: Redactor,
        on_reread: Callable[[str], None] | None = None,
    ) -> None:
        self._sources = dict(sources)
        self._clock = clock
        self._redactor = redactor
        self._on_reread = on_reread
        self._cache: dict[str, _Cached] = {}

    @property
    def schemes(self) -> Mapping[str, SecretSource]:
        return self._sources

    def resolve(self, reference: str, *, where: str = "") -> Secret:
        """The secret behind ``reference``; ``where`` names who asked, for error messages."""
        cached = self._cache.get(reference)
        if cached is not None:
            ttl = cached.ttl
            if ttl is None:  # kept for the process (env:, file:): no clock read per call
                return cached.secret
            now = self._clock.now()
            if now - cached.loaded_at < ttl:
                return cached.secret
        else:
            now = self._clock.now()
        secret = self._load(reference, where)
        source = self._sources[reference.split(":", 1)[0]]
        self._cache[reference] = _Cached(secret, now, source.ttl)
        if cached is not None:
            self._reread(reference, changed=secret != cached.secret)
        return secret

    def reread(self, reference: str, *, where: str = "", rejected: str | None = None) -> bool:
        """Read ``reference`` again now, whatever its TTL says; True when the value changed.

        This is how a 401 turns into a rotation: the caller retries only when a different
        credential came back, so a plain wrong key fails fast. ``rejected`` is the value
        the server refused, for a :class:`RotatingSource` to choose its next candidate.
        """
        before = self._cache.pop(reference, None)
        if before is None:
            self.resolve(reference, where=where)
            return False
        after = self._load(reference, where, rejected=rejected)
        self._cache[reference] = _Cached(after, self._clock.now(), before.ttl)
        changed = after != before.secret
        self._reread(reference, changed=changed)
        return changed

    def can_refresh(self, reference: str) -> bool:
        parts = split_reference(reference)
        if parts is None or parts[0] not in self._sources:
            return False
        return self._sources[parts[0]].ttl is not None

    def invalidate(self, reference: str) -> None:
        self._cache.pop(reference, None)

    def protect(self, value: str) -> None:
        """Hide a credential obtained at run time (an access token) like a loaded one."""
        self._redactor.add(value)

    def redact(self, text: str) -> str:
        """``text`` with every loaded or protected value masked (for server-supplied text)."""
        return self._redactor.redact(text)

    def _reread(self, reference: str, *, changed: bool) -> None:
        log.info(
            "secret %s re-read from its source (%s)",
            reference,
            "value rotated" if changed else "value unchanged",
        )
        if self._on_reread is not None:
            self._on_reread(reference)

    def _load(self, reference: str, where: str, *, rejected: str | None = None) -> Secret:
        prefix = f"{where}: " if where else ""
        parts = split_reference(reference)
        if parts is None or parts[0] not in self._sources:
            known = ", ".join(f"{s}:" for s in sorted(self._sources))
            raise AuthError(
                f"{prefix}credential reference {reference.split(':', 1)[0]!r} has no known source;"
                f" use one of {known}"
            )
        scheme, body = parts
        source = self._sources[scheme]
        after_rejection = getattr(source, "load_after_rejection", None)
        try:
            if rejected is not None and after_rejection is not None:
                value = after_rejection(body, rejected)
            else:
                value = source.load(body)
        except SecretNotFound as exc:
            raise AuthError(
                f"{prefix}credential reference '{reference}' did not resolve: {exc}"
            ) from None
        self._redactor.add(value)
        return Secret(value, reference)
