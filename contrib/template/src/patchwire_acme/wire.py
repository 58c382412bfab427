"""Acme's wire format for patchwire's simulator: the test server your suite runs against.

Replace it with your provider's real format (read its API reference, not its SDK). The
simulator owns the server, faults, limits and content; this class only spells them:

- ``POST /v1/generate`` ``{"model", "prompt", "max_tokens", "stream"}`` ->
  ``{"output", "finish": "stop"|"length", "usage": {"in", "out"}}``; with ``"stream":
  true`` an SSE stream of ``{"delta"}`` events, then ``{"finish", "usage"}`` and ``event: end``.
- ``POST /v1/embed`` ``{"model", "inputs": [...]}`` -> ``{"data": [{"index", "vector"}], "usage"}``.
- Errors ``{"error": {"type", "message"}}``; waits in ``retry-after-ms``; every answer has
  ``x-acme-request`` and ``x-acme-limit-*`` rate-limit headers.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from typing import Any

from patchwire.testing.sim_content import count_tokens
from patchwire.testing.sim_limits import LimitState
from patchwire.testing.sim_wire import (
    ErrorDetail,
    ErrorKind,
    SimReply,
    SimRequest,
    SimResponse,
    SimRoute,
    StreamPlan,
    WireRequestError,
    compact_json,
)

_ERRORS = {
    ErrorKind.AUTH: (401, "auth"),
    ErrorKind.INVALID_REQUEST: (400, "bad_request"),
    ErrorKind.NOT_FOUND: (404, "not_found"),
    ErrorKind.RATE_LIMITED: (429, "rate_limited"),
    ErrorKind.TOO_LARGE: (413, "bad_request"),
    ErrorKind.QUOTA_EXHAUSTED: (402, "no_credit"),
    ErrorKind.SERVER_ERROR: (500, "server_error"),
    ErrorKind.OVERLOADED: (503, "busy"),
}


def _event(data: Any, name: str = "") -> bytes:
    head = f"event: {name}\n" if name else ""
    return f"{head}data: {json.dumps(data)}\n\n".encode()


class AcmeWire:
    name = "acme"
    connector_type = "acme"
    prefix = "/v1"
    example_model = "acme-small"
    routes: Sequence[SimRoute] = (
        SimRoute("/generate", "chat"),
        SimRoute("/embed", "embed"),
    )

    def credential(self, headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
        value = headers.get("Authorization", "")
        return value.removeprefix("Bearer ") if value.startswith("Bearer ") else None

    def parse(self, route: SimRoute, body: bytes, path_params: Mapping[str, str]) -> SimRequest:
        try:
            data = json.loads(body)
            model = str(data["model"])
        except (ValueError, KeyError, TypeError):
            raise WireRequestError("body must be a JSON object with a model") from None
        if route.operation == "embed":
            inputs = data.get("inputs")
            if not isinstance(inputs, list) or not all(isinstance(t, str) for t in inputs):
                raise WireRequestError("inputs must be a list of strings", param="inputs")
            tokens = sum(count_tokens(t) for t in inputs)
            return SimRequest("embed", model, inputs=tuple(inputs), input_tokens=tokens)
        prompt = data.get("prompt")
        if not isinstance(prompt, str):
            raise WireRequestError("prompt must be a string", param="prompt")
        return SimRequest(
            "chat",
            model,
            prompt=prompt,
            input_tokens=count_tokens(prompt),
            stream=bool(data.get("stream")),
            max_tokens=data.get("max_tokens"),
        )

    def default_dimensions(self, model: str) -> int:
        return 8

    def headers(self, request_id: str) -> Mapping[str, str]:
        return {"x-acme-request": request_id}

    def _usage(self, reply: SimReply) -> dict[str, int]:
        return {"in": reply.input_tokens, "out": reply.output_tokens}

    def _finish(self, reply: SimReply) -> str:
        return "length" if reply.truncated else "stop"

    def success(self, request: SimRequest, reply: SimReply) -> SimResponse:
        if request.operation == "embed":
            data = [{"index": i, "vector": list(v)} for i, v in enumerate(reply.vectors)]
            return SimResponse(
                200, compact_json({"data": data, "usage": {"in": reply.input_tokens}})
            )
        body = {"output": reply.text, "finish": self._finish(reply), "usage": self._usage(reply)}
        return SimResponse(200, compact_json(body))

    def stream(self, request: SimRequest, reply: SimReply) -> StreamPlan:
        pieces = tuple(_event({"delta": piece}) for piece in reply.pieces)
        tail = (
            _event({"finish": self._finish(reply), "usage": self._usage(reply)}),
            _event({}, "end"),
        )
        return StreamPlan(head=(), pieces=pieces, tail=tail)

    def error(self, detail: ErrorDetail) -> SimResponse:
        status, kind = _ERRORS[detail.kind]
        message = detail.message or kind.replace("_", " ")
        headers = {}
        if detail.retry_after is not None:
            headers["retry-after-ms"] = str(round(detail.retry_after * 1000))
        body = compact_json({"error": {"type": kind, "message": message}})
        return SimResponse(status, body, headers, retry_after=detail.retry_after)

    def malformed(
        self, request: SimRequest, reply: SimReply, rng: random.Random
    ) -> SimResponse | StreamPlan:
        if request.stream:
            return StreamPlan(head=(), pieces=(b"data: {not json\n\n",), tail=(_event({}, "end"),))
        return SimResponse(200, compact_json({"result": "not what Acme documents"}))

    def limit_headers(self, state: LimitState, now_wall: float) -> Mapping[str, str]:
        out: dict[str, str] = {}
        for kind, window in state.windows().items():
            out[f"x-acme-limit-{kind.value}"] = str(window.limit)
            out[f"x-acme-remaining-{kind.value}"] = str(window.remaining)
            out[f"x-acme-reset-{kind.value}"] = f"{window.reset:.3f}"
        return out
