"""Per-principal OAuth tokens in Redis, encrypted at rest with AES-256-GCM.

The key is configuration's ``[principals] token_key``, a reference to 32 random bytes in
base64 (``python -c "import os,base64;print(base64.b64encode(os.urandom(32)).decode())"``).
Each entry is ``nonce || ciphertext`` under ``PREFIX:token:CONNECTOR:PRINCIPAL``, with
that store key as the associated data: a copy of one user's entry moved under another
user's key fails to decrypt, so whoever can write to Redis cannot make one user's calls
carry another's token. An entry that does not decrypt or decode is treated as missing
(the user is asked to authorize again) and logged without its content.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from patchwire.auth.tokenstore import StoredToken
from patchwire.errors import ConfigError, IntegrationError, TransientError

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisTokenStore", "decode_key"]

log = logging.getLogger("patchwire.redis")
_NONCE = 12


def decode_key(text: str, where: str = "[principals] token_key") -> bytes:
    """The AES key from its base64 text; a ConfigError naming the setting (never the key)."""
    try:
        raw = base64.b64decode(text.strip() + "=" * (-len(text.strip()) % 4), altchars=b"-_")
    except (binascii.Error, ValueError):
        raise ConfigError(f"{where}: not base64; give 32 random bytes in base64") from None
    if len(raw) != 32:
        raise ConfigError(
            f"{where}: decodes to {len(raw)} bytes; AES-256-GCM needs 32 random bytes in base64"
        )
    return raw


class RedisTokenStore:
    """A :class:`patchwire.auth.tokenstore.TokenStore` in Redis, encrypted at rest."""

    def __init__(
        self,
        client: Redis,
        prefix: str,
        key: bytes,
        where: str,
        close: Callable[[], Awaitable[None]],
    ) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._client = client
        self._prefix = prefix
        self._aead = AESGCM(key)
        self._where = where
        self._close = close

    def _key(self, key: str) -> str:
        return f"{self._prefix}:token:{key}"

    async def load(self, key: str) -> StoredToken | None:
        from cryptography.exceptions import InvalidTag

        raw = await self._call(self._client.get(self._key(key)))
        if raw is None:
            return None
        try:
            plain = self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], key.encode("utf-8"))
            return StoredToken.from_json(plain, f"token store entry {key}")
        except (InvalidTag, ValueError):
            log.warning(
                "token store: the entry for %s does not decrypt or decode; treated as missing", key
            )
            return None

    async def save(self, key: str, token: StoredToken) -> None:
        nonce = os.urandom(_NONCE)
        sealed = nonce + self._aead.encrypt(nonce, token.to_json(), key.encode("utf-8"))
        await self._call(self._client.set(self._key(key), sealed))

    async def delete(self, key: str) -> None:
        await self._call(self._client.delete(self._key(key)))

    async def aclose(self) -> None:
        await self._close()

    async def _call(self, pending: Awaitable[object]) -> bytes | None:
        from redis.exceptions import ConnectionError, RedisError, TimeoutError

        try:
            result = await pending
        except (ConnectionError, TimeoutError, OSError) as exc:
            raise TransientError(
                f"token store: Redis at {self._where} did not answer ({type(exc).__name__})"
            ) from None
        except RedisError as exc:
            raise IntegrationError(
                f"token store: Redis at {self._where} refused ({type(exc).__name__})"
            ) from None
        return result if isinstance(result, bytes) else None

    def __repr__(self) -> str:
        return f"RedisTokenStore({self._where!r}, prefix={self._prefix!r})"
