"""Issue 19: what a scheme attached is recorded without a cache look-up when it attached
nothing (the empty set is shared), NoAuth's apply is not awaited, and a static key's
"what this task sent" is set only when it changes. The record and the rotation
behaviour must stay what they were."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from patchwire.auth.attached import Attached, attach
from patchwire.auth.base import AuthContext, NoAuth
from patchwire.auth.keys import BearerAuth
from patchwire.clock import VirtualClock
from patchwire.connector import Attempt
from patchwire.redact import Redactor
from patchwire.secrets import FileSource, SecretResolver


class _HeaderOnly:
    name = "test"

    async def apply(self, headers: dict[str, str], params: dict[str, str]) -> None:
        headers["X-Key"] = "k"

    def ssl_context(self) -> None:
        return None

    def describe(self) -> Mapping[str, str]:
        return {"scheme": self.name}


def _attempt(**fields: Any) -> Attempt:
    none: Any = None  # no clock or session: attach reads neither
    return Attempt(1, none, none, **fields)


async def test_nothing_attached_is_recorded_as_empty_sets() -> None:
    attempt = _attempt()
    await attach(NoAuth(), attempt, "https://api.example.com/v1")
    assert attempt.attached == Attached(
        frozenset(), frozenset(), False, "https://api.example.com:443"
    )
    assert not attempt.attached.is_header("authorization")
    assert not attempt.attached.is_param("key")


async def test_a_header_only_scheme_records_its_header_and_no_param() -> None:
    scheme: Any = _HeaderOnly()
    attempt = _attempt()
    await attach(scheme, attempt, None)
    assert attempt.attached == Attached(frozenset({"x-key"}), frozenset(), False, None)
    # An attempt that came with headers and params of its own still diffs them.
    attempt = _attempt(headers={"X-Key": "k", "Accept": "x"}, params={"q": "1"})
    await attach(scheme, attempt, None)
    assert attempt.attached == Attached(frozenset(), frozenset(), False, None)


async def test_a_static_key_remembers_what_each_task_sent_across_a_rotation(
    tmp_path: Path,
) -> None:
    key = tmp_path / "key"
    key.write_text("first")
    clock = VirtualClock()
    resolver = SecretResolver({"file": FileSource(ttl=60.0)}, clock, Redactor())
    ctx = AuthContext(
        connector="svc", clock=clock, secrets=resolver, session=Any, emit=lambda e: None
    )
    scheme = BearerAuth(ctx, f"file:{key}")

    async def sent_by_a_task() -> str | None:
        headers: dict[str, str] = {}
        await scheme.apply(headers, {})
        await scheme.apply(headers, {})  # the same value again: nothing to set
        assert headers == {"Authorization": f"Bearer {scheme._sent.get()}"}
        return scheme._sent.get()

    assert await asyncio.create_task(sent_by_a_task()) == "first"
    assert scheme._sent.get() is None  # another task's apply does not leak here
    key.write_text("second")
    clock.advance(61.0)  # past the file's ttl: the rotated value is read
    assert await asyncio.create_task(sent_by_a_task()) == "second"
    # A 401 after the rotation: this task sent "first"; another already rotated it.
    await scheme.apply({}, {})
    key.write_text("third")
    assert await scheme.refresh() is True
    headers: dict[str, str] = {}
    await scheme.apply(headers, {})
    assert headers == {"Authorization": "Bearer third"}
    assert scheme._sent.get() == "third"


class _NoAuthThatApplies(NoAuth):
    """A subclass of NoAuth is not NoAuth: its apply must still run."""

    async def apply(self, headers: dict[str, str], params: dict[str, str]) -> None:
        params["token"] = "t"


async def test_no_auth_is_not_asked_but_a_subclass_of_it_is() -> None:
    attempt = _attempt()
    await attach(NoAuth(), attempt, None)
    assert (attempt.headers, attempt.params) == ({}, {})
    assert attempt.attached == Attached(frozenset(), frozenset(), False, None)
    attempt = _attempt()
    await attach(_NoAuthThatApplies(), attempt, None)
    assert attempt.params == {"token": "t"}
    assert attempt.attached == Attached(frozenset(), frozenset({"token"}), False, None)
