"""Attack: a literal credential written into configuration (issue 13, item 3).

``[connectors.X.auth] scheme = "bearer"`` with ``token = "sk-..."`` used to load, be shown by
``patchwire doctor`` and be echoed by every call's error. Every setting an auth scheme holds
a credential in (core's names, and any a plugin's scheme declares) must be a reference, or
loading fails with a ConfigError that names the key and never shows the value; and no
configuration error echoes a string value at all.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from patchwire.auth.base import AuthContext, AuthScheme, NoAuth
from patchwire.errors import ConfigError
from patchwire.hookspecs import hookimpl
from patchwire.hub import Hub
from patchwire.registry import AuthRegistrar

SECRET = "sk-live-Zq81xWv0literal4242"


def _load(plugin_host: Any, data: Mapping[str, Any]) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        Hub.from_dict(data, host=plugin_host, source="app.toml")
    return info.value


def _assert_not_echoed(error: ConfigError, secret: str) -> None:
    text = f"{error} {error!r} {error.message} {error.details}"
    for part in {secret, secret[:8], secret[-8:]}:
        assert part not in text


# Every secret setting of core's schemes, with what else that scheme needs to load.
CORE_SECRETS = [
    ("bearer", "token", {}),
    ("api_key", "key", {"header": "x-api-key"}),
    (
        "oauth2_client_credentials",
        "client_secret",
        {"token_url": "https://auth.example/token", "client_id": "app"},
    ),
    ("jwt_bearer", "private_key", {"issuer": "svc", "token_url": "https://a.example/t"}),
    ("jwt_bearer", "key_file", {}),
    # Names every scheme treats as secret, even one that did not declare them.
    ("bearer", "password", {"token": "env:T"}),
    ("api_key", "client_secret", {"key": "env:K"}),
]


@pytest.mark.parametrize(("scheme", "key", "rest"), CORE_SECRETS)
def test_a_literal_in_any_secret_auth_setting_is_refused_at_load(plugin_host, scheme, key, rest):
    auth = {"scheme": scheme, **rest, key: SECRET}
    err = _load(plugin_host, {"connectors": {"fake": {"auth": auth}}})
    assert err.key == key and err.table == "connectors.fake.auth"
    assert "env:FAKE_" in err.message  # says how to reference it instead
    _assert_not_echoed(err, SECRET)


@pytest.mark.parametrize(("scheme", "key", "rest"), CORE_SECRETS[:5])
def test_the_same_settings_load_as_references(plugin_host, scheme, key, rest):
    auth = {"scheme": scheme, **rest, key: "env:PW_SECRET"}
    hub = Hub.from_dict({"connectors": {"fake": {"auth": auth}}}, host=plugin_host)
    assert hub.config.connectors["fake"].auth is not None


@pytest.mark.parametrize("key", ["client_cert", "client_key", "key_password"])
def test_a_literal_tls_credential_is_refused_at_load(plugin_host, key):
    tls = {"client_cert": "env:CERT", key: SECRET}
    err = _load(plugin_host, {"connectors": {"fake": {"tls": tls}}})
    assert err.key == key and err.table == "connectors.fake.tls"
    _assert_not_echoed(err, SECRET)


def test_a_literal_api_key_is_refused_at_load(plugin_host):
    err = _load(plugin_host, {"connectors": {"fake": {"api_key": SECRET}}})
    assert err.key == "api_key"
    _assert_not_echoed(err, SECRET)


class VaultScheme:
    """A third-party scheme that declares its own secret setting, ``passphrase``."""

    @hookimpl
    def patchwire_register_auth(self, register: AuthRegistrar) -> None:
        def factory(ctx: AuthContext, settings: Mapping[str, Any]) -> AuthScheme:
            return NoAuth()

        register.scheme("vault", factory, secrets=["passphrase"])


def test_core_enforces_a_plugin_schemes_declared_secret(plugin_host, register_plugin):
    register_plugin(VaultScheme(), "vault")
    auth = {"scheme": "vault", "passphrase": SECRET, "role": "reader"}
    err = _load(plugin_host, {"connectors": {"fake": {"auth": auth}}})
    assert err.key == "passphrase"
    _assert_not_echoed(err, SECRET)
    # Undeclared settings stay the scheme's business; a reference loads.
    auth["passphrase"] = "env:VAULT_PASS"
    Hub.from_dict({"connectors": {"fake": {"auth": auth}}}, host=plugin_host)


@pytest.mark.integration
def test_doctor_refuses_a_literal_token_without_printing_it(tmp_path: Path) -> None:
    """Real subprocess, as a user runs it: doctor used to print the literal token."""
    config = tmp_path / "patchwire.toml"
    config.write_text(
        f'[connectors.openai]\n[connectors.openai.auth]\nscheme = "bearer"\ntoken = "{SECRET}"\n'
    )
    env = {k: v for k, v in os.environ.items() if k != "PATCHWIRE_CONFIG"}
    done = subprocess.run(
        [sys.executable, "-m", "patchwire.cli.main", "doctor", "--config", str(config)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2
    assert "token" in done.stderr and "[connectors.openai.auth]" in done.stderr
    for part in (SECRET, SECRET[:8], SECRET[-8:]):
        assert part not in done.stdout + done.stderr


# Places where a string is the wrong type or an unknown value: the error must describe the
# value (type and length), never show it.
def _placements(value: str) -> list[dict[str, Any]]:
    fake: dict[str, Any] = {
        "timeout": value,
        "type": value,
        "base_url": value,
        "escalate": [value],
        "retry": {"jitter": value},
        "retry.max_attempts": value,
        "cache": {"ttl": value},
        "breaker": {"enabled": value},
        "limits": {"max_concurrency": value},
        "batch": {"max_size": value},
        "tls": {"verify": value},
        "auth": {"scheme": "bearer", "token": value},
    }
    out = []
    for key, entry in fake.items():
        if "." in key:
            table, inner = key.split(".")
            out.append({"connectors": {"fake": {table: {inner: entry}}}})
        else:
            out.append({"connectors": {"fake": {key: entry}}})
    out.append({"connectors": {"fake": {}}, "routes": {"r": {"targets": [value]}}})
    out.append({"hub": {"escalate": [value]}})
    out.append({"connectors": {"fake": {"base_url": f"https://user:{value}@example.com/v1"}}})
    return out


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    value=st.text(
        alphabet=st.characters(codec="utf-8", categories=["L", "N", "P"]), min_size=8, max_size=40
    )
    .filter(lambda v: not set(v) & set(":/?#@[]%\\") and not v.startswith(("http", "env", "file")))
    # Markers no message could contain by chance at both ends, so a hit is a real echo, not a
    # key name: the first and last eight characters are checked too, and an unmarked tail
    # such as "credenti" is a word the messages use ("credentials").
    .map(lambda v: f"Zq9{v}9qZ"),
)
def test_no_configuration_error_echoes_a_string_value(plugin_host, value):
    for data in _placements(value):
        err = _load(plugin_host, data)
        _assert_not_echoed(err, value)
