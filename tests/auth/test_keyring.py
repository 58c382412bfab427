"""The keyring: source against a real keyring backend (keyrings.alt's file keyring)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyrings.alt.file import PlaintextKeyring
from patchwire.clock import VirtualClock
from patchwire.errors import AuthError
from patchwire.keyring_source import KeyringSource
from patchwire.plugins import PluginHost
from patchwire.redact import Redactor
from patchwire.secrets import SecretNotFound, SecretResolver
from patchwire.testing import FakeScript

from .support import hub_for


@pytest.fixture
def file_keyring(tmp_path: Path) -> Iterator[PlaintextKeyring]:
    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "keyring_pass.cfg")
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


async def test_keyring_reference_is_used_and_rereads_after_its_ttl(
    file_keyring: PlaintextKeyring,
    plugin_host: PluginHost,
    virtual_clock: VirtualClock,
    fake_scripts: dict[str, FakeScript],
) -> None:
    file_keyring.set_password("patchwire-test", "alice", "keyring-value-one")
    fake_scripts["fake"] = FakeScript(default="ok")
    table = {"auth": {"scheme": "bearer", "token": "keyring:patchwire-test/alice"}}
    async with hub_for(plugin_host, virtual_clock, table) as hub:
        model = hub.model("fake:m")
        await model.complete("a")
        file_keyring.set_password("patchwire-test", "alice", "keyring-value-two")
        await virtual_clock.sleep(KeyringSource().ttl or 0)
        await model.complete("b")
    sent = [c.headers["Authorization"] for c in fake_scripts["fake"].calls]
    assert sent == ["Bearer keyring-value-one", "Bearer keyring-value-two"]


def test_service_names_may_contain_slashes(file_keyring: PlaintextKeyring) -> None:
    file_keyring.set_password("https://api.example/v1", "bob", "slashed-service-value")
    assert KeyringSource().load("https://api.example/v1/bob") == "slashed-service-value"


def test_a_missing_entry_names_service_user_and_backend(file_keyring: PlaintextKeyring) -> None:
    resolver = SecretResolver({"keyring": KeyringSource()}, VirtualClock(), Redactor())
    with pytest.raises(AuthError) as info:
        resolver.resolve("keyring:nowhere/nobody", where="connector 'x'")
    text = info.value.message
    assert "keyring:nowhere/nobody" in text and "PlaintextKeyring" in text
    assert "service 'nowhere', user 'nobody'" in text


def test_a_reference_without_a_user_says_how_to_write_one() -> None:
    with pytest.raises(SecretNotFound, match="keyring:SERVICE/USER"):
        KeyringSource().load("just-a-service")


def test_without_the_keyring_package_the_error_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "keyring", None)
    monkeypatch.setitem(sys.modules, "keyring.errors", None)
    with pytest.raises(SecretNotFound) as info:
        KeyringSource().load("svc/user")
    assert "pip install keyring" in str(info.value)
