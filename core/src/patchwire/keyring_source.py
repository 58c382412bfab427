"""The ``keyring:SERVICE/USER`` secret source: the operating system's credential store.

``keyring`` is an optional dependency (``pip install keyring``); without it a reference
fails with a message that says so, while configurations that do not use the source are
unaffected. The service is everything before the last ``/``, so service names that are
URLs work. Values are read again every ``ttl`` seconds, so a password changed in the
keyring is picked up without a restart.
"""

from __future__ import annotations

import attrs

from patchwire.secrets import SecretNotFound

__all__ = ["KeyringSource"]

_MISSING = (
    "the keyring: source needs the optional 'keyring' package, which is not installed:"
    " pip install keyring (or pip install 'patchwire[keyring]')"
)


@attrs.define
class KeyringSource:
    scheme: str = "keyring"
    ttl: float | None = 300.0

    def load(self, body: str) -> str:
        service, slash, user = body.rpartition("/")
        if not slash or not service or not user:
            raise SecretNotFound(
                f"a keyring reference is keyring:SERVICE/USER; '{body}' has no SERVICE/USER split"
            )
        try:
            import keyring
            from keyring.errors import KeyringError
        except ImportError:
            raise SecretNotFound(_MISSING) from None
        try:
            value = keyring.get_password(service, user)
        except KeyringError as exc:
            backend = type(keyring.get_keyring()).__name__
            raise SecretNotFound(
                f"the keyring ({backend}) could not be read: {type(exc).__name__}: {exc}"
            ) from None
        if value is None:
            backend = type(keyring.get_keyring()).__name__
            raise SecretNotFound(
                f"the keyring ({backend}) has no password for service '{service}', user '{user}'"
            )
        if not value:
            raise SecretNotFound(
                f"the keyring password for service '{service}', user '{user}' is empty"
            )
        return value
