"""Issue 19: attach() builds the attempt's Attached record with positional arguments in
field order (keyword arguments cost a name match each, on every attempt). This holds that
order: each field gets a value of its own and the record equals the keyword-built one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from patchwire.auth.attached import Attached, attach
from patchwire.connector import Attempt


class _Scheme:
    name = "test"

    async def apply(self, headers: dict[str, str], params: dict[str, str]) -> None:
        headers["Authorization"] = "Bearer s3cret"
        params["Key"] = "k"

    def ssl_context(self) -> None:
        return None

    def describe(self) -> Mapping[str, str]:
        return {"scheme": self.name}


async def test_every_field_of_the_record_lands_in_its_place() -> None:
    none: Any = None  # no clock or session: attach reads neither
    attempt = Attempt(1, none, none, headers={"Accept": "x"})
    scheme: Any = _Scheme()
    await attach(scheme, attempt, "HTTPS://Api.Example.com/v1")
    assert attempt.attached == Attached(
        headers=frozenset({"authorization"}),
        params=frozenset({"key"}),
        tls=False,
        origin="https://api.example.com:443",
    )
    await attach(scheme, attempt, None)
    assert attempt.attached.origin is None
