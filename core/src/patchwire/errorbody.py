"""Error bodies in every shape providers and compatible servers send.

Parsed in core because every HTTP connector meets them: OpenAI's nested object (``code`` a
string or null), vLLM's nested object with an integer ``code`` and its older flat form,
Anthropic's ``{"type": "error", "error": {...}}``, Google's ``google.rpc.Status`` with
``details``, and a bare ``{"error": "text"}``. Nested is tried first, then flat, then string.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

__all__ = ["ErrorBody", "parse_error_body"]


@attrs.frozen(slots=True)
class ErrorBody:
    message: str = ""
    type: str | None = None
    code: str | None = None  # always text: vLLM's integer codes become "400"
    status: str | None = None  # google.rpc status name, e.g. RESOURCE_EXHAUSTED
    param: str | None = None
    details: Sequence[Mapping[str, Any]] = ()
    request_id: str | None = None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return str(value)


def parse_error_body(body: bytes | str | Mapping[str, Any] | None) -> ErrorBody | None:
    """The error a body describes, or None when it is not a recognisable error body."""
    data: Any = body
    if isinstance(body, bytes | str):
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return None
    if not isinstance(data, Mapping):
        return None
    request_id = _text(data.get("request_id"))
    err = data.get("error")
    if isinstance(err, Mapping):
        details = err.get("details")
        return ErrorBody(
            message=str(err.get("message") or ""),
            type=_text(err.get("type")),
            code=_text(err.get("code")),
            status=_text(err.get("status")),
            param=_text(err.get("param")),
            details=tuple(d for d in details if isinstance(d, Mapping))
            if isinstance(details, list)
            else (),
            request_id=request_id,
        )
    if isinstance(err, str):
        return ErrorBody(message=err, request_id=request_id)
    if "message" in data and ("type" in data or data.get("object") == "error"):
        return ErrorBody(
            message=str(data.get("message") or ""),
            type=_text(data.get("type")),
            code=_text(data.get("code")),
            param=_text(data.get("param")),
            request_id=request_id,
        )
    return None
