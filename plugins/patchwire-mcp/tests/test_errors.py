"""What a failed start or a broken transport becomes. Unit tests on made-up failures."""

from __future__ import annotations

import ssl

import httpx2
import pytest
from mcp import MCPError
from patchwire.errors import (
    AuthError,
    DegradedError,
    IntegrationError,
    PatchwireError,
    TransientError,
)
from patchwire_mcp.errors import McpProtocolError, start_failure, transport_error


def failed(
    error: BaseException | None, *, stdio: bool = True, timed_out: float | None = None
) -> Exception:
    return start_failure(
        "srv",
        error,
        timed_out=timed_out,
        stdio=stdio,
        stderr=["Traceback", "ValueError: bad flag"],
        response=None,
        from_body=True,
    )


def test_a_stdio_server_closing_the_connection_during_its_handshake_exited() -> None:
    error = failed(ExceptionGroup("tg", [MCPError(-32000, "Connection closed")]))
    assert isinstance(error, IntegrationError)
    assert error.message == (
        "MCP server 'srv' exited during start-up; its last stderr lines: Traceback | ValueError: bad flag"
    )


def test_a_handshake_that_ran_out_of_time_is_degraded() -> None:
    error = failed(None, timed_out=2.5)
    assert isinstance(error, DegradedError)
    assert "did not finish its handshake within 2.5 s" in error.message


def test_a_json_rpc_error_during_the_handshake_is_left_to_the_classifier() -> None:
    error = failed(MCPError(-32022, "Unsupported protocol version"))
    assert isinstance(error, McpProtocolError) and error.code == -32022


@pytest.mark.parametrize(
    ("cause", "kind"),
    [
        (FileNotFoundError(2, "No such file or directory"), IntegrationError),
        (httpx2.ConnectError("All connection attempts failed"), TransientError),
        (httpx2.ReadTimeout("timed out"), DegradedError),
        (OSError(24, "Too many open files"), TransientError),
    ],
)
def test_start_failures_by_cause(cause: BaseException, kind: type[PatchwireError]) -> None:
    assert isinstance(failed(cause, stdio=False), kind)


def test_a_rejected_certificate_is_an_auth_error_however_deep() -> None:
    try:
        try:
            raise ssl.SSLCertVerificationError("certificate verify failed")
        except ssl.SSLError as exc:
            raise httpx2.ConnectError("TLS failed") from exc
    except httpx2.ConnectError as wrapped:
        error = transport_error("srv", wrapped, ())
    assert isinstance(error, AuthError)
    assert "certificate verify failed" in error.message
