"""Mutual TLS: client certificates from references, a custom CA bundle, verification on by
default and never silently off, and a refused client certificate classified as ``auth``.

Integration: real TLS servers on 127.0.0.1 with certificates from ``trustme``. Time is
virtual and moved by hand, so nothing sleeps.
"""

from __future__ import annotations

import logging
import os
import socket
import ssl
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import trustme
from aiohttp import web
from patchwire.auth.tls import classify_tls_failure, tls_context
from patchwire.clock import VirtualClock
from patchwire.connector import Attempt, Capability, Connector
from patchwire.errors import AuthError, Category, ConfigError, PatchwireError
from patchwire.events import Event, EventKind
from patchwire.hookspecs import hookimpl
from patchwire.http import send
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.registry import ConnectorRegistrar
from patchwire.types import Completion, CompletionRequest

pytestmark = pytest.mark.integration


class Probe(Connector):
    """GETs its base_url: the smallest HTTP connector that goes through the pipeline."""

    type_name = "probe"
    capabilities = frozenset({Capability.COMPLETE})

    async def complete(self, request: CompletionRequest, attempt: Attempt) -> Completion:
        assert self.ctx.config.base_url is not None
        response = await send(attempt, "GET", self.ctx.config.base_url)
        return Completion(text=response.text(), model=request.model)


class ProbePlugin:
    PATCHWIRE_CONTRACT = "1.0"

    @hookimpl
    def patchwire_register_connectors(self, register: ConnectorRegistrar) -> None:
        register("probe", Probe)


class Pki:
    """A CA that signs the server and the good client, and a stranger CA for the wrong one."""

    def __init__(self, folder: Path) -> None:
        self.ca = trustme.CA()
        self.stranger = trustme.CA()
        self.server = self.ca.issue_cert("127.0.0.1", "localhost")
        self.folder = folder
        self.ca_file = folder / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))

    def client(self, name: str, *, stranger: bool = False) -> tuple[Path, Path]:
        issuer = self.stranger if stranger else self.ca
        cert = issuer.issue_cert(f"{name}@clients.example")
        cert_path, key_path = self.folder / f"{name}.crt", self.folder / f"{name}.key"
        cert.cert_chain_pems[0].write_to_path(str(cert_path))
        cert.private_key_pem.write_to_path(str(key_path))
        return cert_path, key_path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.server.configure_cert(context)
        self.ca.configure_trust(context)
        context.verify_mode = ssl.CERT_REQUIRED
        return context


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki(tmp_path)


@pytest.fixture
async def mtls_url(pki: Pki) -> AsyncIterator[str]:
    """An aiohttp server that requires a client certificate signed by the CA."""

    async def hello(request: web.Request) -> web.Response:
        peer = request.transport.get_extra_info("peercert") if request.transport else None
        return web.Response(text="hello, certified client" if peer else "no certificate seen")

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=pki.server_context())
    await site.start()
    try:
        yield f"https://127.0.0.1:{runner.addresses[0][1]}/"
    finally:
        await runner.cleanup()


@pytest.fixture
def alerting_url(pki: Pki) -> Iterator[str]:
    """A blocking OpenSSL server (the standard library's ``ssl``), which, like nginx and
    most production servers, sends a TLS alert when it rejects a client certificate.
    asyncio's servers close the connection without one, so the client cannot tell."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.2)
    context = pki.server_context()
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            conn.settimeout(5)
            tls = context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
            try:
                tls.do_handshake()
                tls.recv(65536)
                tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            except (ssl.SSLError, OSError):
                # Linger like a production server: closing with the client's request still
                # unread would send a reset that can overtake the alert.
                with suppress(OSError):
                    tls.shutdown(socket.SHUT_WR)
                    while tls.recv(65536):
                        pass
            finally:
                tls.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{listener.getsockname()[1]}/"
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def probe_hub(
    host: PluginHost,
    url: str,
    tls: dict[str, Any] | None,
    *,
    events: list[Event] | None = None,
) -> Hub:
    connector: dict[str, Any] = {
        "type": "probe",
        "base_url": url,
        "cache": {"ttl": 0},
        # One attempt: a retry would sleep on the hand-driven clock; auth is never retried anyway.
        "retry": {"max_attempts": 1},
    }
    if tls is not None:
        connector["tls"] = tls
    hub = Hub.from_dict(
        {"connectors": {"svc": connector}}, host=host, clock=VirtualClock(autojump=False)
    )
    if events is not None:
        hub.bus.add("test", events.append)
    return hub


@pytest.fixture
def probe_host(plugin_host: PluginHost, register_plugin: Any) -> PluginHost:
    register_plugin(ProbePlugin(), "tests.probe")
    return plugin_host


async def test_client_certificate_from_file_references_is_accepted(
    probe_host: PluginHost, pki: Pki, mtls_url: str
) -> None:
    cert, key = pki.client("good")
    events: list[Event] = []
    tls = {
        "client_cert": f"file:{cert}",
        "client_key": f"file:{key}",
        "ca_bundle": str(pki.ca_file),
    }
    async with probe_hub(probe_host, mtls_url, tls, events=events) as hub:
        reply = await hub.model("svc:any").complete("hi")
    assert reply.text == "hello, certified client"
    acquired = [e for e in events if e.kind is EventKind.CREDENTIAL_ACQUIRED]
    assert acquired and acquired[0].data == {"scheme": "mutual_tls", "certificate": f"file:{cert}"}


async def test_certificate_and_key_in_one_env_reference_without_touching_disk(
    probe_host: PluginHost,
    pki: Pki,
    mtls_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cert, key = pki.client("env")
    monkeypatch.setenv("PW_CLIENT_PEM", key.read_text() + cert.read_text())
    tls = {"client_cert": "env:PW_CLIENT_PEM", "ca_bundle": str(pki.ca_file)}
    async with probe_hub(probe_host, mtls_url, tls) as hub:
        assert (await hub.model("svc:any").complete("hi")).text == "hello, certified client"


async def test_without_memfd_the_pem_goes_through_a_private_temp_file_that_is_removed(
    probe_host: PluginHost,
    pki: Pki,
    mtls_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    cert, key = pki.client("tmp")
    monkeypatch.delattr(os, "memfd_create", raising=False)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr("tempfile.tempdir", None)
    tls = {
        "client_cert": f"file:{cert}",
        "client_key": f"file:{key}",
        "ca_bundle": str(pki.ca_file),
    }
    async with probe_hub(probe_host, mtls_url, tls) as hub:
        assert (await hub.model("svc:any").complete("hi")).text == "hello, certified client"
    assert list(scratch.iterdir()) == []


async def test_a_wrong_client_certificate_is_an_auth_failure_through_the_pipeline(
    probe_host: PluginHost, pki: Pki, alerting_url: str
) -> None:
    cert, key = pki.client("intruder", stranger=True)
    tls = {
        "client_cert": f"file:{cert}",
        "client_key": f"file:{key}",
        "ca_bundle": str(pki.ca_file),
    }
    async with probe_hub(probe_host, alerting_url, tls) as hub:
        with pytest.raises(AuthError) as info:
            await hub.model("svc:any").complete("hi")
    assert "refused the TLS handshake" in info.value.message
    assert "ALERT" in info.value.message


async def test_the_right_certificate_passes_the_alerting_server(
    probe_host: PluginHost, pki: Pki, alerting_url: str
) -> None:
    cert, key = pki.client("good")
    tls = {
        "client_cert": f"file:{cert}",
        "client_key": f"file:{key}",
        "ca_bundle": str(pki.ca_file),
    }
    async with probe_hub(probe_host, alerting_url, tls) as hub:
        assert (await hub.model("svc:any").complete("hi")).text == "ok"


async def test_an_asyncio_server_refusing_the_certificate_fails_the_call(
    probe_host: PluginHost, pki: Pki, mtls_url: str
) -> None:
    """asyncio closes a refused TLS connection without sending the alert, so the client
    sees only a dropped connection; the call still fails, classified by what it saw."""
    cert, key = pki.client("intruder", stranger=True)
    tls = {
        "client_cert": f"file:{cert}",
        "client_key": f"file:{key}",
        "ca_bundle": str(pki.ca_file),
    }
    async with probe_hub(probe_host, mtls_url, tls) as hub:
        with pytest.raises(PatchwireError):
            await hub.model("svc:any").complete("hi")


async def test_an_untrusted_server_certificate_is_auth(
    probe_host: PluginHost, pki: Pki, mtls_url: str
) -> None:
    cert, key = pki.client("good")
    tls = {"client_cert": f"file:{cert}", "client_key": f"file:{key}"}  # system CAs only
    async with probe_hub(probe_host, mtls_url, tls) as hub:
        with pytest.raises(AuthError) as info:
            await hub.model("svc:any").complete("hi")
    assert "certificate" in info.value.message.lower()


def test_verify_false_is_logged_as_a_warning(
    probe_host: PluginHost, caplog: pytest.LogCaptureFixture
) -> None:
    hub = probe_hub(probe_host, "https://127.0.0.1:1/", {"verify": False})
    with caplog.at_level(logging.WARNING, logger="patchwire.auth"):
        runtime = hub.runtime("svc")
    assert runtime.ssl is not None and runtime.ssl.verify_mode is ssl.CERT_NONE
    [record] = [r for r in caplog.records if r.name == "patchwire.auth"]
    assert record.levelno == logging.WARNING
    assert "verification is OFF for connector svc" in record.getMessage()


def test_verification_is_on_by_default(probe_host: PluginHost, pki: Pki) -> None:
    runtime = probe_hub(probe_host, "https://x/", {"ca_bundle": str(pki.ca_file)}).runtime("svc")
    assert runtime.ssl is not None
    assert runtime.ssl.verify_mode is ssl.CERT_REQUIRED and runtime.ssl.check_hostname


@pytest.mark.parametrize(
    ("tls", "key"),
    [
        ({"verify": "no"}, "verify"),
        ({"ca_bundle": "/nonexistent/ca.pem"}, "ca_bundle"),
        ({"client_key": "env:X"}, "client_key"),
        ({"client_cert": "-----BEGIN CERTIFICATE-----"}, "client_cert"),
        ({"cert": "file:/x"}, "cert"),
    ],
)
def test_tls_settings_errors_name_the_key(
    probe_host: PluginHost, tls: dict[str, Any], key: str
) -> None:
    with pytest.raises(ConfigError) as info:
        probe_hub(probe_host, "https://x/", tls).runtime("svc")
    assert info.value.key == key and info.value.table == "connectors.svc.tls"


def test_a_certificate_that_does_not_match_its_key_is_a_config_error(
    probe_host: PluginHost, pki: Pki
) -> None:
    cert, _ = pki.client("one")
    _, other_key = pki.client("two")
    tls = {"client_cert": f"file:{cert}", "client_key": f"file:{other_key}"}
    with pytest.raises(ConfigError) as info:
        probe_hub(probe_host, "https://x/", tls).runtime("svc")
    assert info.value.key == "client_key"
    assert "PRIVATE KEY" not in str(info.value)


def test_tls_context_alone_builds_from_references(pki: Pki, tmp_path: Path) -> None:
    from patchwire.auth.base import AuthContext
    from patchwire.redact import Redactor
    from patchwire.secrets import FileSource, SecretResolver

    cert, key = pki.client("direct")
    ctx = AuthContext(
        connector="svc",
        clock=VirtualClock(),
        secrets=SecretResolver({"file": FileSource()}, VirtualClock(), Redactor()),
        session=aiohttp.ClientSession,
        emit=lambda event: None,
    )
    context = tls_context(ctx, {"client_cert": f"file:{cert}", "client_key": f"file:{key}"})
    assert context.verify_mode is ssl.CERT_REQUIRED


def test_classify_tls_failure_reads_the_cause_chain() -> None:
    alert = ssl.SSLError(1, "[SSL: TLSV1_ALERT_UNKNOWN_CA] tlsv1 alert unknown ca")
    alert.reason = "TLSV1_ALERT_UNKNOWN_CA"  # type: ignore[misc]
    wrapped = aiohttp.ClientOSError(1, str(alert))
    wrapped.__cause__ = alert
    found = classify_tls_failure(wrapped)
    assert found is not None and found.category is Category.AUTH
    eof = aiohttp.ClientOSError(1, "eof")
    eof.__cause__ = ssl.SSLEOFError(8, "EOF occurred in violation of protocol")
    assert classify_tls_failure(eof) is None
    assert classify_tls_failure(ConnectionResetError()) is None
