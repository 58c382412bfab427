"""Secrets never show themselves; references that do not resolve say which and where."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from patchwire.clock import VirtualClock
from patchwire.errors import AuthError, TransientError
from patchwire.hub import Hub
from patchwire.redact import Redactor, install_log_redaction
from patchwire.secrets import EnvSource, FileSource, Secret, SecretResolver
from patchwire.testing import FakeScript

secret_values = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FFF, exclude_categories=("Cs",)),
    min_size=8,
    max_size=64,
)


@settings(max_examples=200, deadline=None)
@given(value=secret_values)
def test_secret_value_never_in_repr_str_or_format(value: str) -> None:
    secret = Secret(value, "env:API_KEY")
    shown = [
        repr(secret),
        str(secret),
        f"{secret}",
        f"{secret!r}",
        "%s" % (secret,),  # noqa: UP031
        repr([secret]),
    ]
    for text in shown:
        assert value not in text
    assert secret.reveal() == value


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=secret_values)
def test_loaded_secret_never_reaches_log_output(
    value: str, caplog: pytest.LogCaptureFixture
) -> None:
    install_log_redaction()
    redactor = Redactor()
    resolver = SecretResolver({"env": EnvSource(environ={"K": value})}, VirtualClock(), redactor)
    secret = resolver.resolve("env:K")
    log = logging.getLogger("patchwire.test")
    with caplog.at_level(logging.DEBUG):
        caplog.clear()
        log.debug("value %s in args", secret.reveal())
        log.warning("value in message " + secret.reveal())
        log.error("mapping %(v)s", {"v": secret.reveal()})
        try:
            raise ValueError(f"bad key {secret.reveal()}")
        except ValueError:
            log.exception("failed")
    text = caplog.text + "".join(r.getMessage() for r in caplog.records)
    assert value not in text


def test_missing_env_names_reference_and_source() -> None:
    resolver = SecretResolver({"env": EnvSource(environ={})}, VirtualClock(), Redactor())
    with pytest.raises(AuthError) as info:
        resolver.resolve("env:OPENAI_API_KEY", where="connector 'openai'")
    text = str(info.value)
    assert "env:OPENAI_API_KEY" in text and "environment variable OPENAI_API_KEY is not set" in text
    assert "connector 'openai'" in text


def test_unreadable_file_names_reference(tmp_path: Path) -> None:
    resolver = SecretResolver({"file": FileSource()}, VirtualClock(), Redactor())
    path = tmp_path / "nope"
    with pytest.raises(AuthError) as info:
        resolver.resolve(f"file:{path}")
    assert f"file:{path}" in str(info.value) and "does not exist" in str(info.value)


def test_file_secret_strips_newline_and_rereads_after_ttl(tmp_path: Path) -> None:
    clock = VirtualClock()
    path = tmp_path / "key"
    path.write_text("first-value\n")
    rereads: list[str] = []
    resolver = SecretResolver(
        {"file": FileSource(ttl=60)}, clock, Redactor(), on_reread=rereads.append
    )
    assert resolver.resolve(f"file:{path}").reveal() == "first-value"
    path.write_text("second-value\n")
    clock.advance(30)
    assert resolver.resolve(f"file:{path}").reveal() == "first-value"
    clock.advance(31)
    assert resolver.resolve(f"file:{path}").reveal() == "second-value"
    assert rereads == [f"file:{path}"]


async def test_missing_credential_fails_the_call_as_auth_without_attempt(
    plugin_host, virtual_clock, fake_scripts, monkeypatch
):
    monkeypatch.delenv("FAKE_KEY", raising=False)
    script = fake_scripts.setdefault("fake", FakeScript())
    hub = Hub.from_dict(
        {"connectors": {"fake": {"api_key": "env:FAKE_KEY"}}}, host=plugin_host, clock=virtual_clock
    )
    async with hub:
        with pytest.raises(AuthError) as info:
            await hub.model("fake:m").complete("hi")
    assert "env:FAKE_KEY" in str(info.value)
    assert script.calls == []


async def test_secret_not_in_error_text_or_events(
    plugin_host, virtual_clock, fake_scripts, monkeypatch
):
    value = "sk-very-secret-value-123"
    monkeypatch.setenv("FAKE_KEY", value)
    script = fake_scripts.setdefault("fake", FakeScript())
    script.push(TransientError(f"upstream echoed Authorization: Bearer {value}"))
    script.push(TransientError(f"upstream echoed key {value}"))
    events = []
    hub = Hub.from_dict(
        {"connectors": {"fake": {"api_key": "env:FAKE_KEY", "retry": {"max_attempts": 2}}}},
        host=plugin_host,
        clock=virtual_clock,
    )
    hub.bus.add("capture", events.append)
    async with hub:
        with pytest.raises(TransientError) as info:
            await hub.model("fake:m").complete("hi")
    assert script.calls[0].headers["Authorization"] == f"Bearer {value}"
    assert value not in str(info.value) and value not in repr(info.value)
    assert all(value not in repr(e) for e in events)
