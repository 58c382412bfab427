"""A toy wire format for the simulator framework's own tests: small, and nobody's provider.

``POST /toy/chat`` takes ``{"model", "prompt", "stream"?, "max_tokens"?}`` and answers
``{"text", "finish", "usage": [in, out]}`` or an SSE stream (``start``, one frame per
piece, ``end``); ``POST /toy/embed`` takes ``{"model", "inputs"}``. Errors are
``{"error": {"kind", "message"}}`` with ``retry-after`` when there is a wait, and the
limits go out as ``x-toy-<kind>-{limit,remaining,reset}``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from typing import Any

from patchwire.hookspecs import hookimpl
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
)

STATUS = {
    ErrorKind.AUTH: 401,
    ErrorKind.INVALID_REQUEST: 400,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.RATE_LIMITED: 429,
    ErrorKind.TOO_LARGE: 413,
    ErrorKind.QUOTA_EXHAUSTED: 402,
    ErrorKind.SERVER_ERROR: 500,
    ErrorKind.OVERLOADED: 503,
}


def _json(data: Any) -> bytes:
    return json.dumps(data).encode()


class ToyWire:
    name = "toy"
    connector_type = "toy"
    prefix = "/toy"
    example_model = "toy-1"
    routes: Sequence[SimRoute] = (SimRoute("/chat", "chat"), SimRoute("/embed", "embed"))

    def credential(self, headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
        return headers.get("x-toy-key")

    def parse(self, route: SimRoute, body: bytes, path_params: Mapping[str, str]) -> SimRequest:
        try:
            data = json.loads(body)
        except ValueError:
            raise WireRequestError("not JSON") from None
        if not isinstance(data, dict) or not isinstance(data.get("model"), str):
            raise WireRequestError("model is required", param="model")
        if route.operation == "embed":
            inputs = tuple(data.get("inputs") or ())
            return SimRequest(
                "embed",
                data["model"],
                inputs=inputs,
                input_tokens=sum(count_tokens(t) for t in inputs),
                dimensions=data.get("dimensions"),
            )
        prompt = str(data.get("prompt", ""))
        return SimRequest(
            "chat",
            data["model"],
            prompt=prompt,
            input_tokens=count_tokens(prompt),
            stream=bool(data.get("stream")),
            max_tokens=data.get("max_tokens"),
        )

    def default_dimensions(self, model: str) -> int:
        return 8

    def headers(self, request_id: str) -> Mapping[str, str]:
        return {"x-toy-request": request_id}

    def success(self, request: SimRequest, reply: SimReply) -> SimResponse:
        if request.operation == "embed":
            return SimResponse(200, _json({"vectors": [list(v) for v in reply.vectors]}))
        body = {
            "text": reply.text,
            "finish": "length" if reply.truncated else "stop",
            "usage": [reply.input_tokens, reply.output_tokens],
        }
        return SimResponse(200, _json(body))

    def stream(self, request: SimRequest, reply: SimReply) -> StreamPlan:
        return StreamPlan(
            head=(b"data: start\n\n",),
            pieces=tuple(b"data: " + _json(p) + b"\n\n" for p in reply.pieces),
            tail=(b"data: end\n\n",),
        )

    def error(self, detail: ErrorDetail) -> SimResponse:
        headers = {}
        if detail.retry_after is not None:
            headers["retry-after"] = f"{detail.retry_after:.3f}"
        message = detail.message or detail.kind.value
        if detail.breach is not None:
            message = f"{detail.breach.kind.value} limit {detail.breach.limit}"
        return SimResponse(
            STATUS[detail.kind],
            _json({"error": {"kind": detail.kind.value, "message": message}}),
            headers=headers,
            retry_after=detail.retry_after,
        )

    def malformed(
        self, request: SimRequest, reply: SimReply, rng: random.Random
    ) -> SimResponse | StreamPlan:
        if request.stream:
            return StreamPlan(head=(b"data: start\n\n",), pieces=(b"data: {oops\n\n",), tail=())
        return SimResponse(200, b'{"text": ')

    def limit_headers(self, state: LimitState, now_wall: float) -> Mapping[str, str]:
        out = {}
        for kind, window in state.windows().items():
            out[f"x-toy-{kind.value}-limit"] = str(window.limit)
            out[f"x-toy-{kind.value}-remaining"] = str(window.remaining)
            out[f"x-toy-{kind.value}-reset"] = f"{window.reset:.3f}"
        return out


class ToyPlugin:
    PATCHWIRE_CONTRACT = "1.0"

    @hookimpl
    def patchwire_register_simulators(self, register: Any) -> None:
        register("toy", ToyWire)
