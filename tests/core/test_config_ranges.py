"""Issue 14 item 8: every configuration value outside its documented range fails at load
with a ConfigError naming the key and the allowed range, never another exception type."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from patchwire.errors import ConfigError
from patchwire.hub import Hub

DAY = 86_400
# (table under [connectors.fake], key, integer only, lowest allowed, lowest is exclusive, highest)
RANGES: list[tuple[str, str, bool, float, bool, float]] = [
    ("", "timeout", False, 0, True, DAY),
    ("", "embed_timeout", False, 0, True, DAY),
    ("retry", "max_attempts", True, 1, False, 100),
    ("retry", "initial", False, 0, False, DAY),
    ("retry", "cap", False, 0, False, DAY),
    ("retry", "deadline", False, 0, True, DAY),
    ("retry", "max_hint", False, 0, True, DAY),
    ("retry", "budget_ratio", False, 0, False, 100),
    ("limits", "requests_per_second", False, 0, True, 1e12),
    ("limits", "requests_per_minute", False, 0, True, 1e12),
    ("limits", "requests_per_day", False, 0, True, 1e12),
    ("limits", "tokens_per_minute", False, 0, True, 1e12),
    ("limits", "tokens_per_day", False, 0, True, 1e12),
    ("limits", "max_concurrency", True, 0, True, 100_000),
    ("cache", "ttl", False, 0, False, 365 * DAY),
    ("cache", "max_entries", True, 1, False, 100_000_000),
    ("breaker", "failure_ratio", False, 0, True, 1),
    ("breaker", "min_calls", True, 1, False, 1_000_000),
    ("breaker", "window", False, 0, True, DAY),
    ("breaker", "open_for", False, 0, True, DAY),
    ("breaker", "half_open_probes", True, 1, False, 1_000),
    ("batch", "linger", False, 0, False, 10),
    ("batch", "max_size", True, 1, False, 100_000),
]


def _config(table: str, key: str, value: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {key: value}
    if (table, key) == ("retry", "cap"):
        entry["initial"] = 0  # so that a valid cap is never refused for being below initial
    if (table, key) == ("retry", "initial"):
        entry["cap"] = DAY  # and a valid initial never for being above cap
    return {"connectors": {"fake": {table: entry} if table else entry}}


def _out_of_range(spec: tuple[str, str, bool, float, bool, float]) -> st.SearchStrategy[Any]:
    _, _, integer, low, exclusive, high = spec
    huge = st.sampled_from([10**400, -(10**400), 2**63, -(2**63)])
    above = st.integers(min_value=math.floor(high) + 1, max_value=10**30)
    below = st.integers(max_value=math.ceil(low) - (0 if exclusive else 1), min_value=-(10**30))
    wrong = st.one_of(st.text(max_size=10), st.booleans(), st.lists(st.integers(), max_size=2))
    options = [huge, above, below, wrong]
    if integer:
        options.append(st.floats(allow_nan=True, allow_infinity=True))
    else:
        options.append(st.sampled_from([math.nan, math.inf, -math.inf, float(high) * 2 + 1]))
    return st.one_of(options)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_value_out_of_its_documented_range_fails_at_load_naming_the_key(plugin_host, data):
    spec = data.draw(st.sampled_from(RANGES))
    table, key = spec[0], spec[1]
    value = data.draw(_out_of_range(spec))
    with pytest.raises(ConfigError) as info:
        Hub.from_dict(_config(table, key, value), host=plugin_host)
    assert info.value.key == key
    assert info.value.table == ("connectors.fake" + (f".{table}" if table else ""))


@pytest.mark.parametrize("spec", RANGES, ids=[f"{t}.{k}".strip(".") for t, k, *_ in RANGES])
def test_each_bound_itself_is_accepted_and_the_error_states_the_range(plugin_host, spec):
    table, key, integer, _, _, high = spec
    Hub.from_dict(_config(table, key, int(high) if integer else high), host=plugin_host)
    with pytest.raises(ConfigError) as info:
        Hub.from_dict(_config(table, key, int(high) + 1), host=plugin_host)
    assert f"<= {high:g}" in info.value.message


def test_a_huge_integer_in_a_float_key_is_a_config_error_not_overflow(plugin_host):
    with pytest.raises(ConfigError) as info:
        Hub.from_dict({"connectors": {"fake": {"timeout": 10**400}}}, host=plugin_host)
    assert info.value.key == "timeout" and "digits" in info.value.message


@pytest.mark.parametrize("verify", ["maybe", 1, "false"])
def test_tls_verify_must_be_a_boolean_at_load(plugin_host, verify):
    with pytest.raises(ConfigError) as info:
        Hub.from_dict({"connectors": {"fake": {"tls": {"verify": verify}}}}, host=plugin_host)
    assert info.value.key == "verify" and info.value.table == "connectors.fake.tls"


def test_tls_unknown_key_and_missing_ca_bundle_fail_at_load(plugin_host, tmp_path):
    with pytest.raises(ConfigError) as info:
        Hub.from_dict({"connectors": {"fake": {"tls": {"verfy": False}}}}, host=plugin_host)
    assert info.value.key == "verfy" and "did you mean 'verify'" in info.value.message
    missing = str(tmp_path / "nope.pem")
    with pytest.raises(ConfigError) as info:
        Hub.from_dict({"connectors": {"fake": {"tls": {"ca_bundle": missing}}}}, host=plugin_host)
    assert info.value.key == "ca_bundle"


@pytest.mark.parametrize(
    "url",
    ["https://user:hunter2secret@api.example.com/v1", "https://tok@api.example.com/v1"],
)
def test_base_url_with_credentials_is_refused_without_echoing_them(plugin_host, url):
    with pytest.raises(ConfigError) as info:
        Hub.from_dict({"connectors": {"fake": {"base_url": url}}}, host=plugin_host)
    assert info.value.key == "base_url" and "user name or password" in info.value.message
    assert "hunter2" not in str(info.value) and "tok@" not in str(info.value)


def test_base_url_with_a_bad_port_is_a_config_error(plugin_host):
    with pytest.raises(ConfigError) as info:
        Hub.from_dict({"connectors": {"fake": {"base_url": "http://h:99999/"}}}, host=plugin_host)
    assert info.value.key == "base_url"


@pytest.mark.parametrize("name", ["fake:one", "", " fake"])
def test_connector_names_cannot_hold_a_colon(plugin_host, name):
    with pytest.raises(ConfigError) as info:
        Hub.from_dict({"connectors": {name: {"type": "fake"}}}, host=plugin_host)
    assert info.value.table == "connectors" and "':'" in info.value.message


def test_route_names_cannot_hold_a_colon(plugin_host):
    with pytest.raises(ConfigError) as info:
        Hub.from_dict(
            {"connectors": {"fake": {}}, "routes": {"a:b": {"targets": ["fake:m"]}}},
            host=plugin_host,
        )
    assert info.value.table == "routes" and info.value.key == "a:b"
