"""``patchwire tool --arg k=v`` passes a string, ``--arg-json`` parses (issue 14 item 11)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from patchwire.cli.commands import _parse_args


def test_arg_values_stay_strings_even_when_they_look_like_json():
    got = _parse_args(['obj={"a": 1}', "n=5", "flag=true", "empty=", "eq=a=b"])
    assert got == {"obj": '{"a": 1}', "n": "5", "flag": "true", "empty": "", "eq": "a=b"}


def test_arg_json_values_are_parsed():
    got = _parse_args([], ['obj={"a": 1}', "n=5", "flag=true", "items=[1, 2]"])
    assert got == {"obj": {"a": 1}, "n": 5, "flag": True, "items": [1, 2]}


@pytest.mark.parametrize(
    ("strings", "as_json", "needle"),
    [
        (["novalue"], [], "--arg #1 must be KEY=VALUE"),
        (["=x"], [], "--arg #1 must be KEY=VALUE"),
        ([], ["k={not json secret-ish}"], "--arg-json k=... is not valid JSON"),
        (["k=1"], ["k=2"], "more than once"),
    ],
)
def test_malformed_arguments_stop_with_a_message_that_does_not_echo_the_value(
    strings, as_json, needle
):
    with pytest.raises(SystemExit) as info:
        _parse_args(strings, as_json)
    message = str(info.value.code)
    assert needle in message and "secret-ish" not in message


@pytest.mark.integration
def test_a_json_looking_string_reaches_a_cli_tool_as_text(tmp_path: Path):
    """Real subprocesses: the patchwire command, and printf behind the cli connector."""
    config = tmp_path / "patchwire.toml"
    config.write_text(
        '[connectors.sh]\ntype = "cli"\n\n[connectors.sh.commands.show]\n'
        'argv = ["printf", "%s", "{x}"]\n'
    )
    env = {k: v for k, v in os.environ.items() if k != "PATCHWIRE_CONFIG"}
    argv = ["tool", "sh", "show", "--arg", 'x={"a": 1}', "--config", str(config)]
    done = subprocess.run(
        [sys.executable, "-m", "patchwire", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == '{"a": 1}'
