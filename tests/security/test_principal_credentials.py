"""A principal's credential references come from application code at run time, so they may
read only the secret sources configuration allows (``env:`` by default): never ``exec:``
(runs a program), ``file:`` (reads any path) or ``keyring:`` unless opted in.

A refused reference is refused before anything is resolved or sent: no program runs, no
file is read, the provider is never called, and the message names the source but not the
reference's body (it may be a command line or a path).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from patchwire import InvalidRequestError, Principal
from patchwire.clock import VirtualClock
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.testing import FakeScript


def _hub(host: PluginHost, principals: dict[str, object] | None = None) -> Hub:
    return Hub.from_dict(
        {
            "connectors": {"fake": {"api_key": "env:PW_SERVICE_KEY", "cache": {"ttl": 0}}},
            "principals": principals or {},
        },
        host=host,
        clock=VirtualClock(),
    )


@pytest.mark.parametrize("source", ["exec", "file", "keyring"])
async def test_principal_reference_to_a_source_not_allowed_is_refused_before_it_runs(
    source: str,
    plugin_host: PluginHost,
    fake_scripts: dict[str, FakeScript],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PW_SERVICE_KEY", "service-key-value")
    marker = tmp_path / "ran"
    body = {
        "exec": f"{sys.executable} -c \"open('{marker}', 'w').write('x'); print('k')\"",
        "file": str(tmp_path / "secret.txt"),
        "keyring": "service/user",
    }[source]
    (tmp_path / "secret.txt").write_text("file-secret-value")
    script = fake_scripts["fake"] = FakeScript(default="ok")
    async with _hub(plugin_host) as hub:
        who = Principal("mallory", credentials={"api_key": f"{source}:{body}"})
        with pytest.raises(InvalidRequestError) as caught:
            await hub.model("fake:m").complete("hi", principal=who)
    message = str(caught.value)
    assert f"'{source}:'" in message and "credential_sources" in message
    assert body not in message and str(tmp_path) not in message
    assert not marker.exists()  # the program never ran
    assert script.calls == []  # nothing was sent


async def test_a_source_allowed_in_configuration_is_used_for_that_principal(
    plugin_host: PluginHost,
    fake_scripts: dict[str, FakeScript],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PW_SERVICE_KEY", "service-key-value")
    secret = tmp_path / "alice.key"
    secret.write_text("alice-file-key-0123")
    script = fake_scripts["fake"] = FakeScript(default="ok")
    async with _hub(plugin_host, {"credential_sources": ["env", "file"]}) as hub:
        who = Principal("alice", credentials={"api_key": f"file:{secret}"})
        await hub.model("fake:m").complete("hi", principal=who)
        await hub.model("fake:m").complete("hi")
    assert [c.headers.get("Authorization") for c in script.calls] == [
        "Bearer alice-file-key-0123",
        "Bearer service-key-value",
    ]


def test_a_literal_credential_on_a_principal_is_refused_without_echoing_it() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        Principal("alice", credentials={"api_key": "sk-live-0123456789abcdef"})
    assert "sk-live" not in str(caught.value)
    assert "env:" in str(caught.value)


def test_a_principal_repr_shows_credential_names_never_references() -> None:
    who = Principal("alice", tags={"team": "search"}, credentials={"api_key": "env:ALICE_KEY"})
    assert "ALICE_KEY" not in repr(who) and "api_key" in repr(who)


def test_an_unknown_source_in_configuration_is_a_config_error(plugin_host: PluginHost) -> None:
    from patchwire import ConfigError

    with pytest.raises(ConfigError, match="credential_sources"):
        _hub(plugin_host, {"credential_sources": ["env", "nosuch"]})
