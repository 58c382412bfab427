"""The configuration-error catalogue: each invalid configuration fails at load with a
ConfigError that names the file, the table and the key, and says what was expected."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from patchwire.errors import ConfigError
from patchwire.hub import Hub


def load(plugin_host: Any, data: dict[str, Any]) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        Hub.from_dict(data, host=plugin_host, source="app.toml")
    return info.value


def test_wrong_type_names_key_and_expected_type(plugin_host):
    err = load(plugin_host, {"connectors": {"fake": {"timeout": "thirty"}}})
    assert err.key == "timeout" and err.table == "connectors.fake" and err.source == "app.toml"
    assert "expected" in err.message and "a number" in err.message
    # A string value is described, never echoed: it may be a credential in the wrong place.
    assert "a string of 6 characters" in err.message and "thirty" not in err.message


def test_bool_is_not_a_number(plugin_host):
    err = load(plugin_host, {"connectors": {"fake": {"retry": {"max_attempts": True}}}})
    assert err.key == "max_attempts" and err.table == "connectors.fake.retry"


def test_unknown_key_suggests_the_closest(plugin_host):
    err = load(plugin_host, {"connectors": {"fake": {"retry": {"max_attemps": 3}}}})
    assert err.key == "max_attemps"
    assert "did you mean 'max_attempts'?" in err.message


def test_unknown_top_level_table(plugin_host):
    err = load(plugin_host, {"connector": {}})
    assert err.key == "connector" and "did you mean 'connectors'?" in err.message


def test_negative_timeout(plugin_host):
    err = load(plugin_host, {"connectors": {"fake": {"timeout": -1}}})
    assert err.key == "timeout" and "must be > 0" in err.message


def test_zero_max_attempts(plugin_host):
    err = load(plugin_host, {"connectors": {"fake": {"retry": {"max_attempts": 0}}}})
    assert err.key == "max_attempts" and ">= 1" in err.message


def test_cap_below_initial(plugin_host):
    err = load(plugin_host, {"connectors": {"fake": {"retry": {"initial": 5, "cap": 1}}}})
    assert err.key == "cap"


def test_negative_limit(plugin_host):
    err = load(plugin_host, {"connectors": {"fake": {"limits": {"requests_per_minute": -5}}}})
    assert err.key == "requests_per_minute" and err.table == "connectors.fake.limits"


def test_failure_ratio_above_one(plugin_host):
    err = load(plugin_host, {"connectors": {"fake": {"breaker": {"failure_ratio": 1.5}}}})
    assert err.key == "failure_ratio" and "<= 1" in err.message


def test_empty_route(plugin_host):
    err = load(plugin_host, {"connectors": {"fake": {}}, "routes": {"fast": {"targets": []}}})
    assert err.table == "routes.fast" and err.key == "targets"
    assert "at least one target" in err.message


def test_route_target_without_model(plugin_host):
    err = load(plugin_host, {"connectors": {"fake": {}}, "routes": {"fast": {"targets": ["fake"]}}})
    assert err.key == "targets" and '"connector:model"' in err.message


def test_route_target_unknown_connector(plugin_host):
    err = load(plugin_host, {"routes": {"fast": {"targets": ["nope:m"]}}})
    assert err.key == "targets" and "'nope'" in err.message


def test_unknown_connector_type_lists_installed(plugin_host):
    err = load(plugin_host, {"connectors": {"mine": {"type": "opnai"}}})
    assert err.key == "type" and err.table == "connectors.mine"
    assert "unknown connector type (a string of 5 characters)" in err.message
    assert "opnai" not in err.message
    assert "Installed connector types: fake" in err.message


def test_table_name_used_as_type_when_unknown(plugin_host):
    err = load(plugin_host, {"connectors": {"openai": {}}})
    assert (
        err.key == "type"
        and "'openai'" in err.message
        and "pip install patchwire-openai" in err.message
    )


def test_literal_credential_is_refused_without_echoing_it(plugin_host):
    secret = "sk-live-abcdef0123456789"
    err = load(plugin_host, {"connectors": {"fake": {"api_key": secret}}})
    assert err.key == "api_key"
    assert "env:" in err.message and "credentials never go in configuration" in err.message
    assert secret not in str(err) and secret not in repr(err)
    assert "sk-live" not in str(err)


def test_literal_credential_with_a_colon_is_not_echoed(plugin_host):
    secret = "user:hunter2-very-secret"
    err = load(plugin_host, {"connectors": {"fake": {"api_key": secret}}})
    assert "hunter2" not in str(err) and "user" not in err.message.split("(")[0]


def test_unknown_escalation_category(plugin_host):
    err = load(plugin_host, {"hub": {"escalate": ["auth", "panic"]}})
    assert err.table == "hub" and err.key == "escalate" and "unknown category" in err.message
    assert "panic" not in err.message


def test_unknown_auth_scheme_names_installed_ones_at_load(plugin_host):
    err = load(plugin_host, {"connectors": {"fake": {"auth": {"scheme": "beerer"}}}})
    assert err.table == "connectors.fake.auth" and err.key == "scheme"
    assert "Did you mean 'bearer'?" in err.message and "oauth2_client_credentials" in err.message
    assert "beerer" not in err.message


def test_unknown_model_name_lists_what_exists(plugin_host):
    hub = Hub.from_dict(
        {"connectors": {"fake": {}}, "routes": {"fast": {"targets": ["fake:a"]}}}, host=plugin_host
    )
    with pytest.raises(ConfigError) as info:
        hub.model("fats")
    assert "Did you mean route 'fast'?" in info.value.message
    with pytest.raises(ConfigError) as info:
        hub.model("nope:m")
    assert "no connector named 'nope'" in info.value.message and "fake" in info.value.message


def test_file_errors_name_the_file(tmp_path: Path, plugin_host):
    missing = tmp_path / "missing.toml"
    with pytest.raises(ConfigError) as info:
        Hub.from_file(missing, host=plugin_host)
    assert str(missing) in str(info.value) and "does not exist" in str(info.value)
    bad = tmp_path / "bad.toml"
    bad.write_text("[connectors.fake\ntimeout = 3\n")
    with pytest.raises(ConfigError) as info:
        Hub.from_file(bad, host=plugin_host)
    assert str(bad) in str(info.value) and "not valid TOML" in str(info.value)


def test_file_error_names_file_table_and_key(tmp_path: Path, plugin_host):
    path = tmp_path / "patchwire.toml"
    path.write_text('[connectors.fake]\ntimeout = 30\n\n[connectors.fake.cache]\nttl = "1h"\n')
    with pytest.raises(ConfigError) as info:
        Hub.from_file(path, host=plugin_host)
    text = str(info.value)
    assert str(path) in text and "[connectors.fake.cache]" in text and "key 'ttl'" in text


def test_valid_design_surface_loads(tmp_path: Path, plugin_host, monkeypatch):
    """Every name of DESIGN §4 is accepted as written there."""
    monkeypatch.setenv("FAKE_KEY", "k-123456")
    path = tmp_path / "patchwire.toml"
    path.write_text(
        """
[connectors.fake]
base_url = "http://127.0.0.1:8080/v1"
api_key = "env:FAKE_KEY"
timeout = 30

[connectors.fake.retry]
max_attempts = 4
initial = 1.0
cap = 30.0
deadline = 120

[connectors.fake.limits]
requests_per_second = 10
requests_per_minute = 500
requests_per_day = 10000
tokens_per_minute = 200000
max_concurrency = 32

[connectors.fake.cache]
ttl = 3600
max_entries = 10000

[connectors.fake.breaker]
failure_ratio = 0.5
min_calls = 20
window = 30
open_for = 15

[routes.fast]
targets = ["fake:small", "fake:large"]
"""
    )
    hub = Hub.from_file(path, host=plugin_host)
    cfg = hub.config.connectors["fake"]
    assert cfg.retry.max_attempts == 4 and cfg.limits.max_concurrency == 32
    assert cfg.cache.ttl == 3600.0 and cfg.breaker.open_for == 15.0
    assert hub.model("fast").targets == ("fake:small", "fake:large")


def test_base_url_must_be_http(plugin_host):
    err = load(plugin_host, {"connectors": {"fake": {"base_url": "ftp://example.com/v1"}}})
    assert err.key == "base_url" and "http(s) URL" in err.message
