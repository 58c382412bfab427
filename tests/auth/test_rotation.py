"""Rotation: a file secret re-read after its TTL, and one refresh-and-retry on a 401.

Through the Hub with the fake connector on the virtual clock (no I/O, nothing sleeps).
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from patchwire.clock import VirtualClock
from patchwire.errors import AuthError
from patchwire.events import Event, EventKind
from patchwire.plugins import PluginHost
from patchwire.testing import Delay, FakeScript

from .support import hub_for

OLD = "old-api-key-000111"
NEW = "new-api-key-222333"


def key_table(reference: str) -> dict[str, Any]:
    return {"auth": {"scheme": "api_key", "key": reference, "header": "x-api-key"}}


def accepts(key_file: Path) -> Any:
    """The fake provider: accepts only the key currently in ``key_file``."""

    def answer(request: Any, attempt: Any) -> Any:
        if attempt.headers.get("x-api-key") == key_file.read_text().strip():
            return "ok"
        return AuthError("invalid api key", status=401)

    return answer


def remove(path: Path) -> None:
    path.unlink()


def rotate(path: Path, value: str) -> None:
    """Replace the mounted secret in place, as an orchestrator does."""
    path.write_text(value + "\n")


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "api_key"
    path.write_text(OLD + "\n")
    return path


async def test_a_rotated_file_secret_is_picked_up_after_its_ttl_without_a_restart(
    plugin_host: PluginHost,
    virtual_clock: VirtualClock,
    fake_scripts: dict[str, FakeScript],
    key_file: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake_scripts["fake"] = FakeScript(default="ok")
    events: list[Event] = []
    caplog.set_level(logging.INFO, logger="patchwire.auth")
    async with hub_for(
        plugin_host, virtual_clock, key_table(f"file:{key_file}"), events=events
    ) as hub:
        model = hub.model("fake:m")
        await model.complete("a")
        rotate(key_file, NEW)
        await virtual_clock.sleep(59)  # FileSource re-reads every 60 s
        await model.complete("b")
        await virtual_clock.sleep(2)
        await model.complete("c")
    sent = [c.headers["x-api-key"] for c in fake_scripts["fake"].calls]
    assert sent == [OLD, OLD, NEW]
    assert [e.kind for e in events].count(EventKind.SECRET_REREAD) == 1
    messages = [r.getMessage() for r in caplog.records if r.name == "patchwire.auth"]
    assert any(f"file:{key_file}" in m and "rotated" in m for m in messages)
    assert not any(OLD in m or NEW in m for m in messages)


async def test_a_401_after_rotation_rereads_the_file_and_retries_once(
    plugin_host: PluginHost,
    virtual_clock: VirtualClock,
    fake_scripts: dict[str, FakeScript],
    key_file: Path,
) -> None:
    fake_scripts["fake"] = FakeScript(default=accepts(key_file))
    events: list[Event] = []
    async with hub_for(
        plugin_host, virtual_clock, key_table(f"file:{key_file}"), events=events
    ) as hub:
        model = hub.model("fake:m")
        await model.complete("a")
        rotate(key_file, NEW)  # TTL not yet over
        reply = await model.complete("b")
    assert reply.attempts == 2
    assert [c.headers["x-api-key"] for c in fake_scripts["fake"].calls] == [OLD, OLD, NEW]
    refreshed = [e for e in events if e.kind is EventKind.CREDENTIAL_REFRESHED]
    assert len(refreshed) == 1 and refreshed[0].data["scheme"] == "api_key"


async def test_a_401_with_an_unchanged_key_fails_fast_and_escalates(
    plugin_host: PluginHost,
    virtual_clock: VirtualClock,
    fake_scripts: dict[str, FakeScript],
    key_file: Path,
    tmp_path: Path,
) -> None:
    fake_scripts["fake"] = FakeScript(default=AuthError("invalid api key", status=401))
    dead = tmp_path / "dead.jsonl"
    async with hub_for(
        plugin_host,
        virtual_clock,
        key_table(f"file:{key_file}"),
        hub={"dead_letter": str(dead)},
    ) as hub:
        with pytest.raises(AuthError) as info:
            await hub.model("fake:m").complete("a")
    assert info.value.attempts == 1
    assert [json.loads(x)["category"] for x in dead.read_text().splitlines()] == ["auth"]


async def test_a_second_401_after_a_rotation_fails_as_auth(
    plugin_host: PluginHost,
    virtual_clock: VirtualClock,
    fake_scripts: dict[str, FakeScript],
    key_file: Path,
) -> None:
    def rotate_then_refuse(request: Any, attempt: Any) -> Any:
        key_file.write_text(f"rotated-at-attempt-{attempt.number}")
        return AuthError("invalid api key", status=401)

    fake_scripts["fake"] = FakeScript(default=rotate_then_refuse)
    async with hub_for(plugin_host, virtual_clock, key_table(f"file:{key_file}")) as hub:
        with pytest.raises(AuthError) as info:
            await hub.model("fake:m").complete("a")
    assert info.value.attempts == 2
    assert len(fake_scripts["fake"].calls) == 2


async def test_a_403_never_refreshes_even_when_the_key_rotated(
    plugin_host: PluginHost,
    virtual_clock: VirtualClock,
    fake_scripts: dict[str, FakeScript],
    key_file: Path,
) -> None:
    fake_scripts["fake"] = FakeScript(default=AuthError("forbidden", status=403))
    events: list[Event] = []
    async with hub_for(
        plugin_host, virtual_clock, key_table(f"file:{key_file}"), events=events
    ) as hub:
        rotate(key_file, NEW)
        with pytest.raises(AuthError) as info:
            await hub.model("fake:m").complete("a")
    assert info.value.attempts == 1
    assert not [e for e in events if e.kind is EventKind.SECRET_REREAD]


async def test_a_401_with_an_env_key_cannot_refresh_and_fails_fast(
    plugin_host: PluginHost,
    virtual_clock: VirtualClock,
    fake_scripts: dict[str, FakeScript],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PW_ROTATION_KEY", OLD)
    fake_scripts["fake"] = FakeScript(default=AuthError("invalid api key", status=401))
    async with hub_for(plugin_host, virtual_clock, key_table("env:PW_ROTATION_KEY")) as hub:
        with pytest.raises(AuthError) as info:
            await hub.model("fake:m").complete("a")
    assert info.value.attempts == 1


async def test_a_reference_that_stops_resolving_is_reported(
    plugin_host: PluginHost,
    virtual_clock: VirtualClock,
    fake_scripts: dict[str, FakeScript],
    key_file: Path,
) -> None:
    fake_scripts["fake"] = FakeScript(default="ok")
    events: list[Event] = []
    async with hub_for(
        plugin_host, virtual_clock, key_table(f"file:{key_file}"), events=events
    ) as hub:
        await hub.model("fake:m").complete("a")
        remove(key_file)
        await virtual_clock.sleep(61)
        with pytest.raises(AuthError) as info:
            await hub.model("fake:m").complete("b")
    assert f"file:{key_file}" in info.value.message and "does not exist" in info.value.message
    failed = [e for e in events if e.kind is EventKind.CREDENTIAL_FAILED]
    assert failed and failed[0].data == {"scheme": "api_key", "reference": f"file:{key_file}"}


async def test_concurrent_calls_refused_after_a_rotation_all_retry_with_the_new_key(
    plugin_host: PluginHost,
    virtual_clock: VirtualClock,
    fake_scripts: dict[str, FakeScript],
    key_file: Path,
) -> None:
    """Invariant: a rotation loses no call, however many were in flight with the old key.

    Every call sends OLD and is refused; only the first re-read sees the file change, and
    the others must retry with the value it found rather than fail as "unchanged"."""
    # Each answer takes a second, so all eight calls are in flight with OLD at once.
    fake_scripts["fake"] = FakeScript(default=Delay(1.0, accepts(key_file)))
    async with hub_for(plugin_host, virtual_clock, key_table(f"file:{key_file}")) as hub:
        model = hub.model("fake:m")
        await model.complete("warm")
        rotate(key_file, NEW)  # TTL not yet over: every call below first sends OLD
        replies = await asyncio.gather(*(model.complete(f"c{i}") for i in range(8)))
    assert all(r.text == "ok" and r.attempts == 2 for r in replies)
    sent = [c.headers["x-api-key"] for c in fake_scripts["fake"].calls[1:]]
    assert sent.count(OLD) == 8 and sent.count(NEW) == 8
