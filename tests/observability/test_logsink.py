from __future__ import annotations

import logging

import pytest
from patchwire.events import Event, EventKind
from patchwire.logsink import CALLS_LOGGER, LoggingSink

SECRET = "sk-proj-abcdef0123456789"


def fields(record: logging.LogRecord) -> dict[str, object]:
    value = record.__dict__["patchwire"]
    assert isinstance(value, dict)
    return value


def test_logger_is_quiet_until_the_application_configures_logging() -> None:
    handlers = logging.getLogger(CALLS_LOGGER).handlers
    assert any(isinstance(h, logging.NullHandler) for h in handlers)


def test_success_is_debug_failure_is_warning_retry_is_info(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink = LoggingSink()
    caplog.set_level(logging.DEBUG, logger=CALLS_LOGGER)
    sink(
        Event(
            EventKind.CALL_SUCCEEDED,
            "openai",
            "gpt-4o-mini",
            call_id=7,
            duration=1.25,
            retries=1,
            input_tokens=12,
            output_tokens=34,
            cost=0.0001,
        )
    )
    sink(
        Event(
            EventKind.RETRY_SCHEDULED,
            "openai",
            "gpt-4o-mini",
            call_id=7,
            attempt=1,
            category="rate_limited",
            duration=2.0,
            message="429 slow down",
        )
    )
    sink(
        Event(
            EventKind.CALL_FAILED,
            "anthropic",
            "claude-haiku-4-5",
            call_id=8,
            duration=0.5,
            category="auth",
            message="invalid x-api-key",
        )
    )
    success, retry, failure = caplog.records
    assert all(r.name == CALLS_LOGGER for r in caplog.records)

    assert success.levelno == logging.DEBUG
    assert fields(success) == {
        "event": "call_succeeded",
        "connector": "openai",
        "model": "gpt-4o-mini",
        "operation": "complete",
        "call_id": 7,
        "latency": 1.25,
        "retries": 1,
        "category": None,
        "input_tokens": 12,
        "output_tokens": 34,
        "cost": 0.0001,
        "cached": False,
    }
    assert success.getMessage() == (
        "openai:gpt-4o-mini complete succeeded in 1.250s after 1 retries (tokens in 12, out 34)"
    )

    assert retry.levelno == logging.INFO
    assert fields(retry)["attempt"] == 1
    assert fields(retry)["delay"] == 2.0
    assert fields(retry)["category"] == "rate_limited"
    assert retry.getMessage() == (
        "openai:gpt-4o-mini complete attempt 1 failed [rate_limited], retrying in 2.000s: 429 slow down"
    )

    assert failure.levelno == logging.WARNING
    assert fields(failure)["category"] == "auth"
    assert fields(failure)["latency"] == 0.5
    assert failure.getMessage() == (
        "anthropic:claude-haiku-4-5 complete failed [auth] after 0 retries in 0.500s: invalid x-api-key"
    )


LOGGED = (
    EventKind.CALL_SUCCEEDED,
    EventKind.CALL_FAILED,
    EventKind.RETRY_SCHEDULED,
    EventKind.FALLBACK_TAKEN,
)


def test_other_events_are_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=CALLS_LOGGER)
    sink = LoggingSink()
    for kind in EventKind:
        if kind not in LOGGED:
            sink(Event(kind, "openai"))
    assert caplog.records == []


def test_event_data_is_never_read_so_no_credential_can_ride_along(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger=CALLS_LOGGER)
    sink = LoggingSink()
    data = {"authorization": f"Bearer {SECRET}", "scheme": "bearer"}
    for kind in LOGGED:
        sink(Event(kind, "openai", "gpt-4o", data=data, category="transient"))
    assert len(caplog.records) == len(LOGGED)
    for record in caplog.records:
        assert SECRET not in record.getMessage()
        assert SECRET not in repr(record.__dict__)


def test_disabled_levels_cost_nothing_and_emit_nothing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=CALLS_LOGGER)
    sink = LoggingSink()
    sink(Event(EventKind.CALL_SUCCEEDED, "openai", "gpt-4o", duration=0.1))
    sink(Event(EventKind.RETRY_SCHEDULED, "openai", "gpt-4o", duration=0.1))
    assert caplog.records == []


def test_a_given_logger_is_used(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="app.calls")
    LoggingSink(logging.getLogger("app.calls"))(
        Event(EventKind.CALL_FAILED, "cli", None, category="integration", message="exit 3")
    )
    (record,) = caplog.records
    assert record.name == "app.calls"
    assert record.getMessage().startswith("cli complete failed [integration]")
