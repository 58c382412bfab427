"""The client-certificate rotation policy as a hypothesis property: whatever order the
certificate and key files are replaced, removed or half-written in, the context a new
connection gets was built from a pair that loaded, and it is the pair on disk as soon as
the disk holds a whole one (no restart, no waiting for the file source's TTL).

No network: the property is about which pair ``ClientTls`` builds from; the handshake with
a rotated certificate is the integration test in ``test_rotation_tls.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import aiohttp
import trustme
from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.auth.base import AuthContext
from patchwire.auth.tls import ClientTls
from patchwire.clock import VirtualClock
from patchwire.redact import Redactor
from patchwire.secrets import FileSource, SecretResolver

_CA = trustme.CA()
PAIRS = {
    name: (leaf.cert_chain_pems[0].bytes(), leaf.private_key_pem.bytes())
    for name, leaf in (
        ("a", _CA.issue_cert("a@clients.example")),
        ("b", _CA.issue_cert("b@clients.example")),
    )
}

# A step replaces the certificate or the key with one of the pairs' halves, writes a half
# file (an agent caught mid-write), removes a file, or opens a connection (asks for the context).
steps = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(["cert", "key"]), st.sampled_from(["a", "b"])),
        st.tuples(st.sampled_from(["cert", "key"]), st.sampled_from(["half", "gone"])),
        st.just(("connect", "")),
    ),
    max_size=25,
)


def write(path: Path, text: bytes) -> None:
    partial = path.with_suffix(".partial")
    partial.write_bytes(text)
    os.replace(partial, path)


@settings(max_examples=60, deadline=None)
@given(script=steps)
def test_the_context_always_comes_from_a_pair_that_loaded_and_follows_a_whole_pair_on_disk(
    tmp_path_factory: object, script: list[tuple[str, str]]
) -> None:
    folder = Path(tmp_path_factory.mktemp("tls"))  # type: ignore[attr-defined]
    files = {"cert": folder / "client.crt", "key": folder / "client.key"}
    on_disk = {"cert": "a", "key": "a"}
    write(files["cert"], PAIRS["a"][0])
    write(files["key"], PAIRS["a"][1])
    clock = VirtualClock()  # never advanced: the file source's TTL never runs out
    ctx = AuthContext(
        connector="svc",
        clock=clock,
        secrets=SecretResolver({"file": FileSource()}, clock, Redactor()),
        session=aiohttp.ClientSession,
        emit=lambda event: None,
    )
    tls = ClientTls(
        ctx, {"client_cert": f"file:{files['cert']}", "client_key": f"file:{files['key']}"}
    )
    in_force = "a"
    for what, value in script:
        if what == "connect":
            tls.current()
            loaded = tls._values  # the texts the context in force was built from
            pair = _pair_of(loaded)
            assert pair is not None, "the context in force was built from halves that do not match"
            if on_disk["cert"] == on_disk["key"] and on_disk["cert"] in PAIRS:
                assert pair == on_disk["cert"]  # a whole pair on disk is used at once
            else:
                assert pair == in_force  # otherwise the previous working pair stays
            in_force = pair
            continue
        path = files[what]
        if value == "gone":
            path.unlink(missing_ok=True)
        elif value == "half":
            write(path, PAIRS["b"][0 if what == "cert" else 1][:200])
        else:
            write(path, PAIRS[value][0 if what == "cert" else 1])
        on_disk[what] = value


def _pair_of(loaded: list[str]) -> str | None:
    """Which pair the loaded certificate and key texts are (the file source strips the newline)."""
    for name, (cert, key) in PAIRS.items():
        if loaded == [cert.decode().rstrip("\r\n"), key.decode().rstrip("\r\n")]:
            return name
    return None
