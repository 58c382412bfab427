"""Thought signatures the simulator issues and checks.

A signature is ``thoughtSignature`` bytes (base64 in JSON): a tag, a 16-byte digest of what
it is bound to and a 16-byte MAC of that digest (core's simulator key), so the simulator
can tell its own signatures from forged or altered ones without keeping state. A call's
signature is bound to the call's name and arguments, so one moved to another call, or sent
back with changed arguments, is refused; a text answer's is bound to its reply.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any, Final

from patchwire.testing.sim_rich import sign
from patchwire.testing.sim_wire import WireRequestError

from patchwire_gemini.request_parts import SKIP_SIGNATURE

__all__ = ["call_digest", "call_signature", "check_signature", "proto_bytes", "text_signature"]

_TAG: Final = b"pwsim"


def _canonical(args: Any) -> str:
    return json.dumps(args, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _token(payload: bytes) -> str:
    digest = hashlib.sha256(payload).digest()[:16]
    mac = bytes.fromhex(sign(digest.hex()))[:16]
    return base64.b64encode(_TAG + digest + mac).decode("ascii")


def call_signature(name: str, args: Any) -> str:
    """The signature the simulator issues for a call of ``name`` with ``args``."""
    return _token(f"call\x00{name}\x00{_canonical(args)}".encode())


def text_signature(request_id: str) -> str:
    """The signature the simulator issues on a text answer."""
    return _token(f"text\x00{request_id}".encode())


def proto_bytes(text: str) -> bytes:
    """Proto JSON bytes: standard or URL-safe base64, as Google reads both (the SDK sends the latter)."""
    return base64.b64decode(text.replace("-", "+").replace("_", "/"), validate=True)


def _genuine(signature: str) -> bytes | None:
    """The signed digest, if ``signature`` is one the simulator issued."""
    try:
        raw = proto_bytes(signature)
    except (binascii.Error, ValueError):
        return None
    if len(raw) != len(_TAG) + 32 or not raw.startswith(_TAG):
        return None
    digest, mac = raw[len(_TAG) : len(_TAG) + 16], raw[len(_TAG) + 16 :]
    return digest if bytes.fromhex(sign(digest.hex()))[:16] == mac else None


def check_signature(signature: Any, where: str, expected: bytes | None) -> bool:
    """Whether a present signature verified (the placeholder is accepted and not counted)."""
    if signature == SKIP_SIGNATURE:
        return False
    digest = _genuine(signature) if isinstance(signature, str) else None
    if digest is None or (expected is not None and digest != expected):
        raise WireRequestError(
            f"Unable to submit request because the thought signature at {where} is not valid."
            " Send back the thoughtSignature of each part unchanged, on the part it came on.",
            param=f"{where}.thought_signature",
        )
    return True


def call_digest(name: str, args: Any) -> bytes:
    return hashlib.sha256(f"call\x00{name}\x00{_canonical(args)}".encode()).digest()[:16]
