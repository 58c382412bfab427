"""Exit statuses to categories: sysexits defaults, configured overrides, signals."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.config import Where
from patchwire.errors import Category, ConfigError
from patchwire_cli.exitcodes import (
    SYSEXITS,
    ExitCodes,
    describe_status,
    parse_exit_codes,
)

_WHERE = Where("test.toml", "connectors.tool")
_STATUSES = st.integers(-64, 255)
_MEANINGS = st.sampled_from(
    [None, *(c for c in Category if c not in (Category.CIRCUIT_OPEN, Category.CONFIG))]
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_STATUSES, _MEANINGS, max_size=8), _STATUSES)
def test_configured_statuses_win_and_the_rest_follow_sysexits(
    overrides: dict[int, Category | None], status: int
) -> None:
    """Invariant: a configured status means what the configuration says; otherwise 0 is
    success, 64-78 follow sysexits, and anything else (signals included) is integration."""
    meaning = ExitCodes(overrides).category(status)
    if status in overrides:
        assert meaning == overrides[status]
    elif status == 0:
        assert meaning is None
    elif status in SYSEXITS:
        assert meaning == SYSEXITS[status]
    else:
        assert meaning is Category.INTEGRATION


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(_STATUSES, _MEANINGS, max_size=5),
    st.dictionaries(_STATUSES, _MEANINGS, max_size=5),
    _STATUSES,
)
def test_a_command_table_overrides_its_connector_table(
    connector: dict[int, Category | None], command: dict[int, Category | None], status: int
) -> None:
    """Invariant: the merged table answers as the command's when it names the status, else
    as the connector's."""
    merged = ExitCodes(command).over(ExitCodes(connector))
    expected = ExitCodes(command) if status in command else ExitCodes(connector)
    assert merged.category(status) == expected.category(status)


def test_sensible_defaults() -> None:
    codes = ExitCodes()
    assert codes.category(0) is None
    assert codes.category(75) is Category.TRANSIENT  # EX_TEMPFAIL
    assert codes.category(64) is Category.INVALID_REQUEST  # EX_USAGE
    assert codes.category(77) is Category.AUTH  # EX_NOPERM
    assert codes.category(69) is Category.DEGRADED  # EX_UNAVAILABLE
    assert codes.category(1) is Category.INTEGRATION
    assert codes.category(-11) is Category.INTEGRATION  # SIGSEGV


def test_parsing_takes_toml_string_keys_ok_and_signals() -> None:
    codes = parse_exit_codes({"2": "invalid_request", "1": "ok", "-9": "transient"}, _WHERE, "k")
    assert codes.category(2) is Category.INVALID_REQUEST
    assert codes.category(1) is None
    assert codes.category(-9) is Category.TRANSIENT


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"two": "transient"}, "not an exit status"),
        ({"256": "transient"}, "out of range"),
        ({"-65": "transient"}, "out of range"),
        ({"2": "flaky"}, "expected 'ok' or one of"),
        ({"2": "circuit_open"}, "expected 'ok' or one of"),
        ({"2": 3}, "expected 'ok' or one of"),
    ],
)
def test_bad_tables_name_the_key(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        parse_exit_codes(raw, _WHERE, "exit_codes")
    assert info.value.key == "exit_codes"
    assert info.value.table == "connectors.tool"


def test_statuses_are_described_for_people() -> None:
    assert describe_status(3) == "exited with status 3"
    assert describe_status(-9) == "was killed by SIGKILL"
