"""Scopes per connector and per tool operation.

A token-exchange connector that declares ``operation_scopes`` exchanges each user's token
for one carrying only the operation's scopes (integration: authlib's server on loopback);
scopes broader than any operation declares are a warning at load; ``patchwire doctor``
lists what each connector and operation will request.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from patchwire import Principal
from patchwire.clock import VirtualClock
from patchwire.plugins import PluginHost
from patchwire.testing import FakeScript

from tests.auth.authserver import AuthServer

from .conftest import CLIENT_ID, SECRET_ENV
from .flows import consent, delegated_hub
from .provider import serve_provider


def exchange_table(server: AuthServer, **overrides: Any) -> dict[str, Any]:
    return {
        "scheme": "oauth2_token_exchange",
        "token_url": server.url,
        "client_id": CLIENT_ID,
        "client_secret": f"env:{SECRET_ENV}",
        "subject_connector": "openai",
        "audience": "https://tracker.example",
        "scopes": ["read", "write"],
        "operation_scopes": {"list_issues": ["read"], "create_issue": ["read", "write"]},
        **overrides,
    }


@pytest.mark.integration
async def test_a_read_operation_uses_a_token_with_only_read_scopes(
    host: PluginHost,
    manual_clock: VirtualClock,
    auth_server: AuthServer,
    app_secret: str,
    fake_scripts: dict[str, FakeScript],
) -> None:
    script = fake_scripts["tracker"] = FakeScript(default="done")
    extra = {
        "tracker": {
            "type": "fake",
            "cache": {"ttl": 0},
            "retry": {"max_attempts": 1},
            "auth": exchange_table(auth_server),
        }
    }
    async with (
        serve_provider(auth_server) as provider,
        delegated_hub(host, manual_clock, auth_server, provider.url, extra=extra) as hub,
    ):
        await consent(hub, "alice")
        alice = Principal("alice")
        tracker = hub.tool("tracker")
        await tracker.call("list_issues", principal=alice)
        await tracker.call("create_issue", principal=alice, title="x")
        await tracker.call("list_issues", principal=alice)  # the read token is reused
    granted = [
        auth_server.live(c.headers["Authorization"].removeprefix("Bearer ")) for c in script.calls
    ]
    assert [g["scope"] if g else None for g in granted] == ["read", "read write", "read"]
    assert all(g and g["user"] == "alice" for g in granted)
    exchanges = [f for f in auth_server.forms if f["grant_type"].endswith("token-exchange")]
    assert [f["scope"] for f in exchanges] == ["read", "read write"]


def test_scopes_broader_than_any_operation_declares_warn_at_load(
    host: PluginHost, caplog: pytest.LogCaptureFixture
) -> None:
    from patchwire.hub import Hub

    caplog.set_level(logging.WARNING, logger="patchwire.config")
    server = AuthServer([])
    server.url = "http://127.0.0.1:1/token"
    hub = Hub.from_dict(
        {
            "connectors": {
                "tracker": {
                    "type": "fake",
                    "auth": exchange_table(server, scopes=["read", "write", "admin"]),
                }
            }
        },
        host=host,
    )
    assert len(hub.config_warnings) == 1
    warning = hub.config_warnings[0]
    assert "[connectors.tracker.auth] scopes asks for admin" in warning
    assert "write" not in warning.split("asks for")[1].split(",")[0]
    assert warning in caplog.text
    narrow = Hub.from_dict(
        {"connectors": {"tracker": {"type": "fake", "auth": exchange_table(server)}}}, host=host
    )
    assert narrow.config_warnings == []


def test_doctor_lists_the_scopes_each_connector_and_operation_requests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from patchwire.cli.main import main

    monkeypatch.setenv(SECRET_ENV, "app-secret-value-0123")
    monkeypatch.setenv("PATCHWIRE_LOAD_PLUGINS", "patchwire-openai")
    config = tmp_path / "patchwire.toml"
    config.write_text(
        """
[connectors.openai.auth]
scheme = "oauth2_delegated"
token_url = "http://127.0.0.1:1/token"
authorize_url = "http://127.0.0.1:1/authorize"
client_id = "app"
client_secret = "env:PW_TEST_APP_SECRET"
scopes = ["read", "write", "admin"]
operation_scopes = { list_issues = ["read"], create_issue = ["read", "write"] }
"""
    )
    code = main(["doctor", "--json", "--config", str(config)])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    assert report["connectors"]["openai"]["scopes"] == {
        "*": "read write admin",
        "create_issue": "read write",
        "list_issues": "read",
    }
    assert any("asks for admin" in w for w in report["warnings"])
    assert "app-secret-value" not in json.dumps(report)
