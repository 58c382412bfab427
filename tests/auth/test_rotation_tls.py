"""Rotation of a client certificate without a restart: the files change on disk, the server
then accepts only the new certificate, and no call of a running workload fails.

Integration: a real TLS server on 127.0.0.1 (aiohttp) with ``trustme`` certificates; the
server picks, per handshake, which client CAs it trusts (an SNI callback swaps in the
context of the moment), so "accepts only the new certificate" is enforced by OpenSSL
itself, not by a handler. Time is virtual and moved by hand: nothing here waits on it.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme
from aiohttp import web
from patchwire.events import Event, EventKind
from patchwire.plugins import PluginHost

from .test_tls import probe_host, probe_hub  # noqa: F401  (probe_host is a fixture)

pytestmark = pytest.mark.integration


class RotatingServer:
    """Trusts the client CAs named in ``accepted``, decided at each new handshake."""

    def __init__(self, folder: Path) -> None:
        self.server_ca = trustme.CA()
        self.old_ca, self.new_ca = trustme.CA(), trustme.CA()
        self.server = self.server_ca.issue_cert("127.0.0.1")
        self.ca_file = folder / "server-ca.pem"
        self.server_ca.cert_pem.write_to_path(str(self.ca_file))
        self.accepted: frozenset[str] = frozenset({"old"})
        self.handshakes: list[str] = []  # the CA set each handshake was checked against
        self.peers: list[str] = []  # the client certificate each request came over
        self._contexts = {
            names: self._context(names)
            for names in (frozenset({"old"}), frozenset({"new"}), frozenset({"old", "new"}))
        }

    def _context(self, names: frozenset[str]) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.server.configure_cert(context)
        for name in names:
            (self.old_ca if name == "old" else self.new_ca).configure_trust(context)
        context.verify_mode = ssl.CERT_REQUIRED
        return context

    def listening_context(self) -> ssl.SSLContext:
        context = self._context(frozenset({"old"}))

        def choose(conn: ssl.SSLObject, server_name: str | None, _: ssl.SSLContext) -> None:
            self.handshakes.append("+".join(sorted(self.accepted)))
            conn.context = self._contexts[self.accepted]

        context.sni_callback = choose
        return context

    def client(self, name: str, folder: Path) -> tuple[trustme.LeafCert, Path, Path]:
        issuer = self.old_ca if name == "old" else self.new_ca
        leaf = issuer.issue_cert(f"{name}@clients.example")
        return leaf, folder / "client.crt", folder / "client.key"


def replace(path: Path, text: bytes) -> None:
    """Write a new version beside the file and rename it over, as a secrets agent does."""
    partial = path.with_suffix(".partial")
    partial.write_bytes(text)
    os.replace(partial, path)


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[tuple[RotatingServer, str]]:
    rotating = RotatingServer(tmp_path)

    async def hello(request: web.Request) -> web.Response:
        peer = request.transport.get_extra_info("peercert") if request.transport else None
        names = [v for field in (peer or {}).get("subjectAltName", ()) for v in field[1:]]
        rotating.peers.append(",".join(names))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=rotating.listening_context())
    await site.start()
    try:
        yield rotating, f"https://127.0.0.1:{runner.addresses[0][1]}/"
    finally:
        await runner.cleanup()


async def test_a_client_certificate_rotated_on_disk_is_used_for_new_connections_with_no_failed_call(
    probe_host: PluginHost,  # noqa: F811
    server: tuple[RotatingServer, str],
    tmp_path: Path,
) -> None:
    rotating, url = server
    old, cert_file, key_file = rotating.client("old", tmp_path)
    new, _, _ = rotating.client("new", tmp_path)
    cert_file.write_bytes(old.cert_chain_pems[0].bytes())
    key_file.write_bytes(old.private_key_pem.bytes())
    tls = {
        "client_cert": f"file:{cert_file}",
        "client_key": f"file:{key_file}",
        "ca_bundle": str(rotating.ca_file),
    }
    events: list[Event] = []
    outcomes: list[str] = []
    async with probe_hub(probe_host, url, tls, events=events) as hub:
        model = hub.model("svc:any")

        async def workload(n: int) -> None:
            replies = await asyncio.gather(
                *(model.complete(f"c{i}") for i in range(n)), return_exceptions=True
            )
            outcomes.extend(
                r.text if not isinstance(r, BaseException) else repr(r) for r in replies
            )

        await workload(8)
        # The certificate is replaced first: until the key follows, the pair does not load,
        # and calls keep the certificate that works.
        replace(cert_file, new.cert_chain_pems[0].bytes())
        await workload(4)
        replace(key_file, new.private_key_pem.bytes())
        # The switch: from now on a handshake with the old certificate is refused.
        rotating.accepted = frozenset({"new"})
        await workload(8)
    assert outcomes == ["ok"] * 20
    # Before the rotation every request came with the old certificate; after it, none did:
    # connections are pooled per TLS context, so the old ones are left to close when idle.
    assert rotating.peers[:12] == ["old@clients.example"] * 12
    assert rotating.peers[12:] == ["new@clients.example"] * 8
    # Handshakes after the switch were checked against the new CA alone, and passed.
    assert rotating.handshakes[-1] == "new"
    kinds = [(e.kind, e.data.get("scheme")) for e in events if e.operation == "auth"]
    assert kinds.count((EventKind.CREDENTIAL_REFRESHED, "mutual_tls")) == 1
