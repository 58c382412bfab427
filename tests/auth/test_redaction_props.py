"""No credential ever shows: hypothesis over secret values and over the ways a call can fail.

Invariant: for any client secret, API key and access token, and any failure path (the
token endpoint answering 401 with the secret echoed back, 500, malformed JSON, a token
type we cannot use, no answer; the provider answering 401, 403 or 500 with the
credential echoed in its message, or timing out), none of those values appears in the
captured logs (every level, every logger), the error's text and repr, any event, the
metrics snapshot, or ``patchwire doctor``'s output.

Integration: a scripted token endpoint on 127.0.0.1; the hub's clock is virtual and moved
by hand (a "no answer" moves it past the deadline), so nothing sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.cli.main import main as cli_main
from patchwire.clock import VirtualClock
from patchwire.errors import AuthError, PatchwireError, TransientError
from patchwire.events import Event
from patchwire.plugins import PluginHost
from patchwire.testing import FakeScript, Hang
from patchwire.testing.fake import FakeConnector, FakePlugin

from .scripted import NoAnswer, Reply, ScriptedEndpoint, scripted, token
from .support import hub_for

pytestmark = pytest.mark.integration


def _corpus() -> str:
    """Text the program prints on its own: a generated value found inside it would be a
    coincidence (hypothesis shrinks towards such words), not a leak."""
    import patchwire

    package = Path(patchwire.__file__).parent
    parts = [p.read_text(encoding="utf-8") for p in package.rglob("*.py")]
    parts += [p.read_text(encoding="utf-8") for p in Path(__file__).parent.glob("*.py")]
    parts += ["http://127.0.0.1:", tempfile.gettempdir(), "PW_PROP_SECRET", "PW_DOCTOR_SECRET"]
    return "\n".join(parts)


_CORPUS = _corpus()


def _distinctive(value: str) -> bool:
    return len(set(value)) > 3 and any(c.isalpha() for c in value) and value not in _CORPUS


# Whatever a secret store may hold: printable characters from many scripts, no spaces (a
# value is one token).
_ALPHABET = st.characters(min_codepoint=33, max_codepoint=0x2FFF, exclude_categories=("Cs",))
secret_values = st.text(alphabet=_ALPHABET, min_size=8, max_size=40).filter(_distinctive)
# RFC 6750 b64token characters: what real access tokens are made of.
token_values = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/",
    min_size=16,
    max_size=64,
).filter(_distinctive)

TOKEN_FAILURES = (None, "401", "500", "malformed", "not_bearer", "no_answer")
PROVIDER_FAILURES = (None, "401", "403", "500", "timeout")


class Capture(logging.Handler):
    """Every record from every logger, formatted as a handler would print it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))
        self.lines.append(repr(record.args))
        self.lines.append(record.exc_text or "")
        self.lines.append(repr(getattr(record, "patchwire", "")))


@contextlib.contextmanager
def captured_logs() -> Iterator[Capture]:
    capture = Capture()
    root = logging.getLogger()
    level = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    try:
        yield capture
    finally:
        root.removeHandler(capture)
        root.setLevel(level)


@contextlib.contextmanager
def env(name: str, value: str) -> Iterator[None]:
    os.environ[name] = value
    try:
        yield
    finally:
        del os.environ[name]


def provider(failure: str | None, clock: VirtualClock) -> Any:
    """The fake provider; a hostile one echoes the credential it was sent in its error."""

    def answer(request: Any, attempt: Any) -> Any:
        sent = attempt.headers.get("Authorization") or attempt.headers.get("x-api-key", "")
        if failure == "401":
            return AuthError(f"credential rejected: {sent}", status=401)
        if failure == "403":
            return AuthError(f"forbidden for Authorization: {sent}", status=403)
        if failure == "500":
            return TransientError(f"upstream failed handling {sent}", status=500)
        if failure == "timeout":
            clock.advance(31)
            return Hang()
        return "ok"

    return answer


def token_replies(failure: str | None, secret: str, access: str, clock: VirtualClock) -> list[Any]:
    if failure == "401":
        return [
            Reply(401, {"error": "invalid_client", "error_description": f"bad secret {secret}"})
        ]
    if failure == "500":
        return [Reply(500, f"trace: client_secret={secret}")]
    if failure == "malformed":
        return [Reply(200, f'{{"access_token": "{access}", "expires_in": ')]
    if failure == "not_bearer":
        return [token(access, token_type="MAC")]
    if failure == "no_answer":
        return [NoAnswer(lambda: clock.advance(31))]
    return [token(access)]


async def scenario(
    plugin_host: PluginHost,
    scheme: str,
    client_auth: str,
    secret: str,
    access: str,
    token_failure: str | None,
    provider_failure: str | None,
    folder: Path,
) -> str:
    clock = VirtualClock(autojump=False)
    FakeConnector.scripts["fake"] = FakeScript(default=provider(provider_failure, clock))
    events: list[Event] = []
    shown: list[str] = []
    replies = token_replies(token_failure, secret, access, clock)
    endpoint = ScriptedEndpoint(replies, default=token(access[::-1]))
    with captured_logs() as logs, env("PW_PROP_SECRET", secret):
        async with scripted(endpoint):
            if scheme == "oauth2":
                auth = {
                    "scheme": "oauth2_client_credentials",
                    "token_url": endpoint.url,
                    "client_id": "prop-client",
                    "client_secret": "env:PW_PROP_SECRET",
                    "client_auth": client_auth,
                }
            else:
                key_file = folder / "key"
                key_file.write_text(secret + "\n")
                auth = {"scheme": "api_key", "key": f"file:{key_file}"}
            connector = {"auth": auth, "retry": {"max_attempts": 1}}
            async with hub_for(plugin_host, clock, connector, events=events) as hub:
                try:
                    reply = await hub.model("fake:m").complete("hello")
                    shown.append(repr(reply))
                except PatchwireError as err:
                    shown += [str(err), repr(err), err.message, str(err.details)]
                    shown += [str(f) for f in err.failures]
                shown.append(json.dumps(hub.metrics().to_dict()))
                shown.append(repr(hub))
                runtime = hub.runtime("fake")
                shown += [repr(runtime.auth), repr(dict(runtime.auth.describe()))]
                shown.append(repr(getattr(runtime.auth, "cache", "")))
    shown += [repr(e) for e in events]
    shown += logs.lines
    return "\n".join(shown)


@settings(max_examples=60, deadline=None)
@given(
    scheme=st.sampled_from(["oauth2", "api_key"]),
    client_auth=st.sampled_from(["basic", "post"]),
    secret=secret_values,
    access=token_values,
    token_failure=st.sampled_from(TOKEN_FAILURES),
    provider_failure=st.sampled_from(PROVIDER_FAILURES),
)
def test_no_credential_in_logs_errors_events_or_metrics(
    scheme: str,
    client_auth: str,
    secret: str,
    access: str,
    token_failure: str | None,
    provider_failure: str | None,
) -> None:
    host = PluginHost(load_entry_points=False)
    host.register(FakePlugin(), "patchwire.testing.fake", distribution="patchwire")
    with tempfile.TemporaryDirectory() as folder:
        text = asyncio.run(
            scenario(
                host,
                scheme,
                client_auth,
                secret,
                access,
                token_failure,
                provider_failure,
                Path(folder),
            )
        )
    FakeConnector.scripts.clear()
    assert secret not in text
    assert access not in text
    assert access[::-1] not in text


# --- patchwire doctor ----------------------------------------------------------------------


class ThreadedEndpoint:
    """The scripted endpoint on its own loop in a thread: doctor runs its own event loop."""

    def __init__(self) -> None:
        self.endpoint = ScriptedEndpoint()
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        async def serve() -> None:
            self._stop = asyncio.Event()
            async with scripted(self.endpoint):
                self._ready.set()
                await self._stop.wait()

        self.loop.run_until_complete(serve())

    def __enter__(self) -> ScriptedEndpoint:
        self._thread.start()
        self._ready.wait(10)
        return self.endpoint

    def __exit__(self, *exc: object) -> None:
        assert self._stop is not None
        self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        self.loop.close()


@pytest.fixture
def doctor_host(monkeypatch: pytest.MonkeyPatch) -> PluginHost:
    """Doctor builds its hub on the process-wide host: make it core plus the fake connector."""
    host = PluginHost(load_entry_points=False)
    host.register(FakePlugin(), "patchwire.testing.fake", distribution="patchwire")
    monkeypatch.setattr("patchwire.plugins._default", host)
    return host


@pytest.mark.usefixtures("doctor_host")
@settings(max_examples=15, deadline=None)
@given(
    secret=secret_values,
    api_key=secret_values,
    access=token_values,
    answer=st.sampled_from(["token", "401", "500", "malformed"]),
    as_json=st.booleans(),
)
def test_doctor_output_never_shows_a_credential(
    secret: str, api_key: str, access: str, answer: str, as_json: bool
) -> None:
    """Invariant: doctor reports references, scheme names and outcomes, never values,
    whether the token endpoint grants a token or fails (with the secret echoed back)."""
    replies = {
        "token": token(access),
        "401": Reply(401, {"error": "invalid_client", "error_description": f"secret {secret}"}),
        "500": Reply(500, f"client_secret={secret}"),
        "malformed": Reply(200, f'{{"access_token": "{access}"'),
    }
    with ThreadedEndpoint() as endpoint, tempfile.TemporaryDirectory() as folder:
        endpoint.replies[:] = [replies[answer]]
        config = Path(folder) / "patchwire.toml"
        key_file = Path(folder) / "api_key"
        key_file.write_text(api_key + "\n", encoding="utf-8")
        config.write_text(
            f"""
[connectors.oauth]
type = "fake"
[connectors.oauth.auth]
scheme = "oauth2_client_credentials"
token_url = "{endpoint.url}"
client_id = "doctor-client"
client_secret = "env:PW_DOCTOR_SECRET"

[connectors.static]
type = "fake"
[connectors.static.auth]
scheme = "api_key"
key = "file:{key_file}"
""",
            encoding="utf-8",
        )
        out, err = io.StringIO(), io.StringIO()
        argv = ["doctor", "--config", str(config), *(["--json"] if as_json else [])]
        with (
            env("PW_DOCTOR_SECRET", secret),
            captured_logs() as logs,
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            code = cli_main(argv)
    text = out.getvalue() + err.getvalue() + "\n".join(logs.lines)
    assert "env:PW_DOCTOR_SECRET" in text and "oauth2_client_credentials" in text
    assert code == (0 if answer == "token" else 1)
    for value in (secret, api_key, access):
        assert value not in text
