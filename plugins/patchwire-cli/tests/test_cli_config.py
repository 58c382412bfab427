"""Configuration of the cli connector: everything wrong is refused when the hub is created."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from patchwire.config import ConnectorConfig
from patchwire.errors import ConfigError, InvalidRequestError
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire_cli.commands import parse_settings


def _hub(host: PluginHost, commands: Any, **table: Any) -> Hub:
    return Hub.from_dict(
        {"connectors": {"tool": {"type": "cli", "commands": commands, **table}}},
        source="tools.toml",
        host=host,
    )


def _error(host: PluginHost, commands: Any, **table: Any) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        _hub(host, commands, **table)
    return info.value


def test_a_missing_executable_names_the_binary_and_the_path_searched(
    cli_host: PluginHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/nowhere/bin:/also/nowhere")
    error = _error(cli_host, {"convert": {"argv": ["pandocz", "-t", "{to}"]}})
    assert error.source == "tools.toml"
    assert error.table == "connectors.tool.commands.convert"
    assert error.key == "argv"
    assert "'pandocz'" in error.message
    assert "/nowhere/bin:/also/nowhere" in error.message


def test_the_path_setting_is_what_gets_searched(cli_host: PluginHost) -> None:
    error = _error(cli_host, {"q": {"argv": ["jq", "."]}}, path="/opt/empty")
    assert "searched: /opt/empty" in error.message


def test_a_program_given_by_path_must_exist_and_be_executable(
    cli_host: PluginHost, tmp_path: Path
) -> None:
    script = tmp_path / "tool.sh"
    script.write_text("#!/bin/sh\n")
    error = _error(cli_host, {"run": {"argv": [str(script)]}})
    assert "does not exist or is not executable" in error.message
    script.chmod(0o755)
    _hub(cli_host, {"run": {"argv": [str(script)]}})


@pytest.mark.parametrize(
    ("command", "key", "message"),
    [
        ({"argv": ["jq", "{"]}, "argv", "unmatched"),
        ({"argv": ["{prog}"]}, "argv", "must be a literal"),
        ({"argv": []}, "argv", "argv is empty"),
        ({"argv": "jq ."}, "argv", "a list of strings"),
        ({}, "argv", "missing"),
        ({"argv": ["jq"], "output": "yaml"}, "output", "text, lines, json, jsonl"),
        ({"argv": ["jq"], "stdn": "doc"}, "stdn", "did you mean 'stdin'"),
        ({"argv": ["jq"], "stdin": "not a name"}, "stdin", "not an argument name"),
        ({"argv": ["jq", "{f}"], "defaults": {"g": 1}}, "defaults", "g is not an argument"),
        ({"argv": ["jq"], "max_concurrency": 0}, "max_concurrency", ">= 1"),
        ({"argv": ["jq"], "exit_codes": {"2": "sometimes"}}, "exit_codes", "expected 'ok'"),
        ({"argv": ["jq"], "env": ["NOT-A-NAME"]}, "env", "not an environment variable"),
        ({"argv": ["jq"], "env": ["LC_*_X"]}, "env", "not an environment variable"),
        ({"argv": ["jq"], "cwd": "/does/not/exist"}, "cwd", "does not exist"),
        ({"argv": ["jq"], "timeout": 0}, "timeout", "must be > 0 seconds"),
        ({"argv": ["jq"], "timeout": -1}, "timeout", ">= 0"),
        ({"argv": ["jq"], "timeout": "5"}, "timeout", "a number"),
        ({"argv": ["jq"], "ttl": -1}, "ttl", ">= 0"),
        ({"argv": ["jq"], "ttl": 10**400}, "ttl", "<="),
    ],
)
def test_bad_command_tables_name_the_key(
    cli_host: PluginHost, command: dict[str, Any], key: str, message: str
) -> None:
    error = _error(cli_host, {"c": command})
    assert error.table == "connectors.tool.commands.c"
    assert error.key == key
    assert message in error.message


def test_connector_wide_settings_are_checked(cli_host: PluginHost) -> None:
    assert _error(cli_host, {}).key == "commands"
    assert _error(cli_host, {"c": {"argv": ["jq"]}}, kill_grace=-1).key == "kill_grace"
    assert _error(cli_host, {"c": {"argv": ["jq"]}}, max_output=0).key == "max_output"
    assert _error(cli_host, {"bad name": {"argv": ["jq"]}}).key == "bad name"


def test_a_literal_credential_in_env_secrets_is_refused_without_being_echoed(
    cli_host: PluginHost,
) -> None:
    literal = "ghp_" + "a1b2c3d4" * 4
    error = _error(cli_host, {"c": {"argv": ["jq"], "env_secrets": {"GITHUB_TOKEN": literal}}})
    assert error.key == "GITHUB_TOKEN"
    assert "credential reference" in error.message
    assert literal not in str(error) and literal not in repr(error)


def test_arguments_are_checked_before_anything_runs() -> None:
    config = ConnectorConfig(
        name="t",
        type="cli",
        settings={
            "commands": {
                "grep": {"argv": [sys.executable, "{pattern}", "{file}"], "stdin": "text"},
            }
        },
    )
    command = parse_settings(config).commands["grep"]
    assert command.required == {"pattern", "file", "text"}
    with pytest.raises(InvalidRequestError, match="needs argument"):
        command.bind({"pattern": "x", "text": ""})
    with pytest.raises(InvalidRequestError, match="has no argument"):
        command.bind({"pattern": "x", "file": "f", "text": "", "flags": "-i"})
    with pytest.raises(InvalidRequestError, match="string or a number"):
        command.bind({"pattern": ["x"], "file": "f", "text": ""})
    with pytest.raises(InvalidRequestError, match="NUL"):
        command.bind({"pattern": "a\x00b", "file": "f", "text": ""})
    with pytest.raises(InvalidRequestError, match="standard input"):
        command.bind({"pattern": "x", "file": "f", "text": 3})
    bound = command.bind({"pattern": 3, "file": True, "text": "é"})
    assert bound.argv[1:] == ["3", "true"]
    assert bound.stdin == "é".encode()
