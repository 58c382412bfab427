"""The in-process connector the overhead benchmarks call: it answers at once, so what a call
costs beyond awaiting it is the pipeline's."""

from __future__ import annotations

from typing import Any

from patchwire.connector import Attempt, Capability, Connector
from patchwire.hookspecs import hookimpl
from patchwire.types import Completion, CompletionRequest, Usage


class Instant(Connector):
    type_name = "instant"
    capabilities = frozenset({Capability.COMPLETE})
    _reply = Completion(text="ok", usage=Usage(3, 1), model="m")

    async def complete(self, request: CompletionRequest, attempt: Attempt) -> Completion:
        return self._reply


class Plugin:
    @hookimpl
    def patchwire_register_connectors(self, register: Any) -> None:
        register("instant", Instant)
