"""Who a call is for: a :class:`Principal`, passed per call or set for a block of code.

A call without one runs as the hub's own service identity, exactly as before principals
existed. A principal carries an id, optional tags (team, plan) and optional credentials,
which are references (``env:ALICE_KEY``), never values: the values are read through the
hub's secret sources, limited to the sources ``[principals] credential_sources`` allows
(see :mod:`patchwire.principals.credentials`), because a principal is built by
application code at run time from whatever the application was told.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextvars import ContextVar, Token
from types import MappingProxyType, TracebackType
from typing import Any

import attrs

from patchwire.errors import InvalidRequestError
from patchwire.secrets import split_reference

__all__ = ["Principal", "acting_for", "current_principal"]

_ID = re.compile(r"^[A-Za-z0-9._@:+\-/]{1,200}$")
_TAG = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


def well_formed_id(text: str) -> bool:
    """Whether ``text`` is a principal id this module accepts (exporters check what they label)."""
    return _ID.match(text) is not None and not text.endswith("\n")


def well_formed_tag(text: str) -> bool:
    """Whether ``text`` is a tag name or value this module accepts."""
    return _TAG.match(text) is not None and not text.endswith("\n")


def _text_map(value: Mapping[str, str] | None) -> Mapping[str, str]:
    return MappingProxyType(dict(value or {}))


@attrs.frozen(repr=False, eq=True, hash=False)
class Principal:
    """Who a call is for. ``credentials`` maps a credential name (``api_key``, ``token``,
    or a key of the connector's ``[auth]`` table) to a reference."""

    id: str
    tags: Mapping[str, str] = attrs.field(factory=dict, converter=_text_map)
    credentials: Mapping[str, str] = attrs.field(factory=dict, converter=_text_map)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.id, str) or not _ID.match(self.id):
            raise InvalidRequestError(
                "a principal id is 1-200 characters of letters, digits and ._@:+-/"
                f" (got {_shown(self.id)})"
            )
        for name, value in self.tags.items():
            if not (isinstance(name, str) and _TAG.match(name) and isinstance(value, str)):
                raise InvalidRequestError(
                    f"principal '{self.id}': tag {_shown(name)} must be a name of letters,"
                    " digits and _.- with a string value"
                )
            if not _TAG.match(value):
                raise InvalidRequestError(
                    f"principal '{self.id}': tag '{name}' has a value that is not 1-64"
                    " letters, digits and _.-"
                )
        for name, value in self.credentials.items():
            if (
                not isinstance(name, str)
                or not isinstance(value, str)
                or not split_reference(value)
            ):
                # Never echo the value: it may be the credential itself.
                raise InvalidRequestError(
                    f"principal '{self.id}': credential {_shown(name)} must be a reference such"
                    f" as 'env:{str(name).upper()}_{self.id.upper()}', never the credential itself"
                )

    def __repr__(self) -> str:
        tags = ", ".join(f"{k}={v}" for k, v in sorted(self.tags.items()))
        creds = ", ".join(sorted(self.credentials))
        return f"Principal({self.id!r}, tags={{{tags}}}, credentials=[{creds}])"


def _shown(value: Any) -> str:
    return repr(value)[:40] if isinstance(value, str) and len(value) < 40 else type(value).__name__


_CURRENT: ContextVar[Principal | None] = ContextVar("patchwire_principal", default=None)


def current_principal() -> Principal | None:
    """The principal set by the innermost ``acting_for`` block, or None (the service identity)."""
    return _CURRENT.get()


class acting_for:
    """``async with hub.acting_for(p):`` (or ``with``): calls inside are made for ``p``
    unless they pass their own ``principal=``. Nested blocks restore the outer one."""

    __slots__ = ("_principal", "_token")

    def __init__(self, principal: Principal) -> None:
        if not isinstance(principal, Principal):
            raise InvalidRequestError(
                f"acting_for takes a patchwire.Principal, got {type(principal).__name__}"
            )
        self._principal = principal
        self._token: Token[Principal | None] | None = None

    def __enter__(self) -> Principal:
        self._token = _CURRENT.set(self._principal)
        return self._principal

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._token is not None:
            _CURRENT.reset(self._token)
            self._token = None

    async def __aenter__(self) -> Principal:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)
