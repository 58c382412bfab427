"""What a call is sent to, and what a stream holds until its last chunk."""

from __future__ import annotations

import attrs

from patchwire.breaker import BreakerPermit
from patchwire.limiter import Permit
from patchwire.runtime import ConnectorRuntime
from patchwire.types import CompletionRequest, EmbeddingRequest, ToolRequest

__all__ = ["Held", "Request", "Target"]

Request = CompletionRequest | EmbeddingRequest | ToolRequest


@attrs.frozen
class Target:
    runtime: ConnectorRuntime
    model: str | None

    @property
    def label(self) -> str:
        return f"{self.runtime.name}:{self.model}" if self.model else self.runtime.name


@attrs.define
class Held:
    """Permits a stream keeps until its last chunk."""

    limiter: Permit | None
    breaker: BreakerPermit | None

    def release(self) -> None:
        if self.limiter is not None:
            self.limiter.release()
            self.limiter = None
