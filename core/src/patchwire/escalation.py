"""Final failures that need a person or a dead-letter store.

The pipeline hands every final failure whose category the configuration escalates (auth,
invalid_request and integration by default) to the ``patchwire_escalate`` hook. Core ships
a logging escalation (a built-in plugin) and a JSON-lines dead-letter file.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

import attrs

from patchwire.hookspecs import hookimpl

__all__ = ["DeadLetterFile", "Failure", "LoggingEscalation"]

log = logging.getLogger("patchwire.escalation")


@attrs.frozen
class Failure:
    """What escalation receives: the call, where it failed and why — never its input or credentials."""

    connector: str
    model: str | None
    operation: str
    category: str
    message: str
    attempts: int
    call_id: int
    status: int | None = None
    code: str | None = None
    request_id: str | None = None
    time: float = 0.0
    #: the id of the principal the call was for (never its credentials); None: the service
    principal: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


class LoggingEscalation:
    """Logs each escalated failure at ERROR on ``patchwire.escalation``."""

    @hookimpl
    def patchwire_escalate(self, failure: Failure) -> None:
        log.error(
            "escalated %s failure on %s:%s after %d attempt(s): %s",
            failure.category,
            failure.connector,
            failure.model or "-",
            failure.attempts,
            failure.message,
            extra={"patchwire": failure.to_dict()},
        )


class DeadLetterFile:
    """Appends each escalated failure as one JSON line (``[hub] dead_letter = "path"``)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def __call__(self, failure: Failure) -> None:
        line = json.dumps(failure.to_dict(), sort_keys=True)
        with self._lock, self.path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")
