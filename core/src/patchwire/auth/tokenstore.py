"""Where per-principal tokens live: the ``TokenStore`` protocol and the in-memory store.

A store maps a key (``connector:principal``) to a :class:`StoredToken`. Tokens expire
on wall time (``expires_at``), so processes sharing a store (Redis, in
contrib/patchwire-redis, encrypted at rest) agree on when one is stale. Encoding is
data-only JSON: nothing read from a store is executed.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

import attrs

from patchwire.secrets import Secret

__all__ = ["MemoryTokenStore", "StoredToken", "TokenStore"]


@attrs.frozen(repr=False)
class StoredToken:
    """One principal's tokens for one connector. Values never show in a repr."""

    access_token: Secret
    refresh_token: Secret | None = None
    expires_at: float | None = None  # wall seconds; None: until refused
    scope: str | None = None

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "access_token": self.access_token.reveal(),
                "refresh_token": self.refresh_token.reveal() if self.refresh_token else None,
                "expires_at": self.expires_at,
                "scope": self.scope,
            },
            separators=(",", ":"),
        ).encode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes, where: str = "token store") -> StoredToken:
        """Decode a stored entry; ValueError (naming no value) for anything malformed."""
        data: Any = json.loads(raw)
        if not isinstance(data, dict) or not isinstance(data.get("access_token"), str):
            raise ValueError(f"{where}: an entry is not a stored token")
        refresh = data.get("refresh_token")
        expires = data.get("expires_at")
        scope = data.get("scope")
        if refresh is not None and not isinstance(refresh, str):
            raise ValueError(f"{where}: an entry's refresh_token is not a string")
        if expires is not None and (
            isinstance(expires, bool) or not isinstance(expires, int | float)
        ):
            raise ValueError(f"{where}: an entry's expires_at is not a number")
        return cls(
            Secret(data["access_token"], where),
            Secret(refresh, where) if refresh else None,
            float(expires) if expires is not None else None,
            scope if isinstance(scope, str) else None,
        )

    def __repr__(self) -> str:
        refresh = ", refresh_token=***" if self.refresh_token else ""
        return f"StoredToken(access_token=***{refresh}, expires_at={self.expires_at}, scope={self.scope!r})"


class TokenStore(Protocol):
    async def load(self, key: str) -> StoredToken | None: ...

    async def save(self, key: str, token: StoredToken) -> None: ...

    async def delete(self, key: str) -> None: ...

    async def aclose(self) -> None: ...


class MemoryTokenStore:
    """Tokens in this process only (lost on exit): the default, and for tests."""

    def __init__(self) -> None:
        self._tokens: dict[str, StoredToken] = {}

    async def load(self, key: str) -> StoredToken | None:
        return self._tokens.get(key)

    async def save(self, key: str, token: StoredToken) -> None:
        self._tokens[key] = token

    async def delete(self, key: str) -> None:
        self._tokens.pop(key, None)

    async def aclose(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"<MemoryTokenStore entries={len(self._tokens)}>"
