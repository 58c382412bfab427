"""Turning a program's standard output into a result: text, lines, JSON or JSON lines."""

from __future__ import annotations

import enum
import json
from typing import Any

from patchwire.errors import IntegrationError

__all__ = ["OutputMode", "parse_output"]

_SHOWN = 200  # characters of unparsable output quoted in an error


class OutputMode(enum.StrEnum):
    TEXT = "text"
    LINES = "lines"
    JSON = "json"
    JSONL = "jsonl"


def _excerpt(text: str) -> str:
    return text[:_SHOWN] + ("..." if len(text) > _SHOWN else "")


def parse_output(mode: OutputMode, text: str, command: str) -> Any:
    """The structured value of ``text``; output that is not in the declared form is the
    tool answering in a form we did not expect (``IntegrationError``)."""
    if mode is OutputMode.TEXT:
        return text
    if mode is OutputMode.LINES:
        return text.splitlines()
    if mode is OutputMode.JSON:
        try:
            return json.loads(text)
        except ValueError as exc:
            raise IntegrationError(
                f"command '{command}' declares JSON output but printed something else ({exc}):"
                f" {_excerpt(text)!r}"
            ) from None
    values = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            values.append(json.loads(line))
        except ValueError as exc:
            raise IntegrationError(
                f"command '{command}' declares JSON lines but line {number} is not JSON"
                f" ({exc}): {_excerpt(line)!r}"
            ) from None
    return values
