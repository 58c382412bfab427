"""attach() builds the attempt's Attached record by storing its slots on a bare instance
(issue 19: the type call into attrs' __init__ on every attempt). That is all __init__
does with every field given, while the class validates, converts and hooks nothing: this
fails when it starts to, or when a field is added that the builder does not store."""

from __future__ import annotations

from typing import Any

import attrs
from patchwire.auth.attached import Attached, attach
from patchwire.connector import Attempt


def test_attached_has_nothing_its_init_would_run_that_the_builder_skips() -> None:
    assert Attached.__setattr__ is object.__setattr__
    assert not hasattr(Attached, "__attrs_post_init__")
    assert not hasattr(Attached, "__attrs_pre_init__")
    for field in attrs.fields(Attached):
        assert field.validator is None and field.converter is None, field.name
    assert [f.name for f in attrs.fields(Attached)] == ["headers", "params", "tls", "origin"]


class _Nothing:
    name = "nothing"

    async def apply(self, headers: dict[str, str], params: dict[str, str]) -> None:
        return None

    def ssl_context(self) -> None:
        return None


async def test_a_record_of_nothing_attached_is_the_built_one_and_its_own() -> None:
    none: Any = None  # no clock or session: attach reads neither
    records = []
    for _ in range(2):
        attempt = Attempt(1, none, none)
        await attach(_Nothing(), attempt, "https://api.example.com/v1")  # type: ignore[arg-type]
        records.append(attempt.attached)
    expected = Attached(frozenset(), frozenset(), False, "https://api.example.com:443")
    assert records[0] == expected and repr(records[0]) == repr(expected)
    assert type(records[0]) is Attached and records[0] is not records[1]
    assert attrs.evolve(records[0], tls=True) == attrs.evolve(expected, tls=True)


async def test_params_present_before_and_removed_count_as_nothing_attached() -> None:
    class _Dropping(_Nothing):
        async def apply(self, headers: dict[str, str], params: dict[str, str]) -> None:
            params.clear()

    none: Any = None
    attempt = Attempt(1, none, none, params={"q": "1"})
    await attach(_Dropping(), attempt, None)  # type: ignore[arg-type]
    assert attempt.attached == Attached(frozenset(), frozenset(), False, None)
