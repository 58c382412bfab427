"""Issue 19: attach() calls a static key's synchronous put (BearerAuth, ApiKeyAuth, by exact
type) instead of creating and awaiting its apply coroutine, and takes the header names put
returns as what it attached when the attempt came with no headers.

Invariant: for every static-key scheme (bearer; api key in a header, a query parameter or
both, any case) and any headers and params an attempt comes with, attach() leaves the
attempt exactly as awaiting the scheme's apply through attach's general path does: the
same headers, params, TLS context and Attached record.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from patchwire.auth.attached import attach
from patchwire.auth.base import AuthContext
from patchwire.auth.keys import ApiKeyAuth, BearerAuth
from patchwire.clock import VirtualClock
from patchwire.connector import Attempt
from patchwire.redact import Redactor
from patchwire.secrets import EnvSource, SecretResolver

_KEY = "sk-test-0123"


def _ctx() -> AuthContext:
    resolver = SecretResolver({"env": EnvSource(environ={"KEY": _KEY})}, VirtualClock(), Redactor())
    none: Any = None
    return AuthContext(connector="svc", clock=none, secrets=resolver, session=none, emit=print)


class _Through:
    """The scheme seen through a type attach() does not know: its apply is awaited."""

    name = "through"

    def __init__(self, scheme: Any) -> None:
        self._scheme = scheme

    async def apply(self, headers: dict[str, str], params: dict[str, str]) -> None:
        await self._scheme.apply(headers, params)

    def ssl_context(self) -> None:
        return self._scheme.ssl_context()  # type: ignore[no-any-return]

    def describe(self) -> Mapping[str, str]:
        return {"scheme": self.name}


names = st.sampled_from(["Authorization", "authorization", "X-Api-Key", "x-api-key", "Accept"])
values = st.sampled_from([_KEY, f"Bearer {_KEY}", "other", ""])
dicts = st.dictionaries(names, values, max_size=3)
query_names = st.sampled_from(["key", "Key", "q"])
queries = st.dictionaries(query_names, values, max_size=2)
schemes = st.sampled_from(["bearer", "header", "query", "both"])
header_names = st.sampled_from(["x-api-key", "X-Api-Key", "Authorization"])


def _scheme(kind: str, header: str) -> Any:
    ctx = _ctx()
    if kind == "bearer":
        return BearerAuth(ctx, "env:KEY")
    return ApiKeyAuth(
        ctx,
        "env:KEY",
        header=None if kind == "query" else header,
        query=None if kind == "header" else "key",
    )


def _attempt(headers: dict[str, str], params: dict[str, str]) -> Attempt:
    none: Any = None  # no clock or session: attach reads neither
    return Attempt(1, none, none, headers=dict(headers), params=dict(params))


@given(kind=schemes, header=header_names, headers=dicts, params=queries, base=st.booleans())
async def test_put_directly_is_apply_awaited(
    kind: str, header: str, headers: dict[str, str], params: dict[str, str], base: bool
) -> None:
    base_url = "https://API.example.com/v1" if base else None
    scheme = _scheme(kind, header)
    direct, awaited = _attempt(headers, params), _attempt(headers, params)
    await attach(scheme, direct, base_url)
    await attach(_Through(scheme), awaited, base_url)
    assert direct.headers == awaited.headers
    assert list(direct.headers) == list(awaited.headers)
    assert direct.params == awaited.params
    assert direct.ssl is awaited.ssl
    assert direct.attached == awaited.attached


async def test_a_subclass_that_overrides_apply_is_awaited() -> None:
    class Custom(BearerAuth):
        async def apply(self, headers: dict[str, str], params: dict[str, str]) -> None:
            headers["X-Custom"] = "c"

    attempt = _attempt({}, {})
    await attach(Custom(_ctx(), "env:KEY"), attempt, None)
    assert attempt.headers == {"X-Custom": "c"}
    assert attempt.attached.headers == frozenset({"x-custom"})


@pytest.mark.parametrize("kind", ["bearer", "header", "query", "both"])
def test_put_names_the_headers_it_set(kind: str) -> None:
    headers: dict[str, str] = {}
    params: dict[str, str] = {}
    names = _scheme(kind, "X-Api-Key").put(headers, params)
    assert names == frozenset(name.lower() for name in headers)


async def test_the_bearer_header_follows_a_rotated_value(tmp_path: Any) -> None:
    """The kept header is the last value's: a rotation sends the new value, and the scheme's
    repr shows neither."""
    from patchwire.secrets import FileSource

    key = tmp_path / "key"
    key.write_text("first")
    clock = VirtualClock()
    resolver = SecretResolver({"file": FileSource(ttl=60.0)}, clock, Redactor())
    none: Any = None
    ctx = AuthContext(connector="svc", clock=clock, secrets=resolver, session=none, emit=print)
    scheme = BearerAuth(ctx, f"file:{key}")
    for expected, rotate in (
        ("first", False),
        ("first", True),
        ("second", False),
        ("second", False),
    ):
        attempt = _attempt({}, {})
        await attach(scheme, attempt, None)
        assert attempt.headers == {"Authorization": f"Bearer {expected}"}
        assert expected not in repr(scheme)
        if rotate:
            key.write_text("second")
            clock.advance(61.0)  # past the file's ttl: the rotated value is read
