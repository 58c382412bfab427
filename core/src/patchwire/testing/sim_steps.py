"""Scripted tool-loop behaviour for the simulator: multi-step runs, context windows per
model, and structured answers that break their schema.

- :class:`StepScript` is a :data:`~patchwire.testing.sim_rich.ToolScript` that decides
  every turn of a conversation, also after tool results: ``StepScript([["lookup"],
  ["a", "b"]])`` calls ``lookup``, then ``a`` and ``b`` in parallel, then answers. A
  step item is a tool name (arguments drawn from its schema) or ``(name, arguments)``.
  The turn is ``SimRequest.tool_rounds`` (the assistant turns with tool calls the
  conversation holds) when the wire counts them; otherwise it is inferred from the
  request's size (``SimRequest.body_size``): a turn's request is larger than the one
  before, and a retried request repeats its size. So without ``tool_rounds`` one script follows one
  conversation (a test's run); give each concurrent conversation its own simulator.
- :func:`context_overflow` is the answer to a request larger than the model's window
  (``Simulator(context_windows={model: tokens})``): the wire's own
  ``context_overflow(detail, window)`` when it has one (the provider's real body and
  code), else an ``invalid_request`` answer whose message says the input exceeds the
  context window.
- :func:`broken_answer` is a structured answer that breaks any object schema
  (``Simulator(break_schema=n)`` sends it for the first ``n`` structured answers).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from patchwire.testing.sim_wire import ErrorDetail, ErrorKind, SimRequest, SimResponse, WireFormat

__all__ = ["StepScript", "broken_answer", "context_overflow"]

StepItem = str | tuple[str, Mapping[str, Any] | None]


class StepScript:
    """Decides each turn's tool calls by its index (see the module docstring)."""

    #: consulted after tool results too (``plan_tool_calls`` checks this)
    multi_step = True

    def __init__(self, steps: Sequence[Sequence[StepItem]]) -> None:
        self.steps = [list(step) for step in steps]
        self._sizes: list[int] = []
        #: (turn, tool names) of every request decided, in order
        self.seen: list[tuple[int, tuple[str, ...]]] = []

    def restart(self) -> None:
        """Forget the sizes seen: the next request begins another conversation."""
        self._sizes.clear()

    def turn(self, sim: SimRequest) -> int:
        if sim.tool_rounds is not None:
            return sim.tool_rounds
        if not sim.after_tool_result:
            return 0
        sizes = self._sizes
        if sim.body_size not in sizes:
            sizes.append(sim.body_size)
            sizes.sort()
        return 1 + sizes.index(sim.body_size)

    def __call__(self, sim: SimRequest) -> Sequence[tuple[str, Mapping[str, Any]]]:
        turn = self.turn(sim)
        step = self.steps[turn] if turn < len(self.steps) else []
        offered = {t.name: t for t in sim.tools}
        calls: list[tuple[str, Mapping[str, Any]]] = []
        for item in step:
            name, arguments = (item, None) if isinstance(item, str) else item
            if arguments is None:
                from patchwire.testing.sim_rich import _rng
                from patchwire.testing.sim_schema import instance_for

                tool = offered.get(name)
                schema = dict(tool.schema) if tool is not None else {"type": "object"}
                arguments = instance_for(schema, _rng(sim.model, sim.prompt, name, str(turn)))
            calls.append((name, arguments))
        self.seen.append((turn, tuple(name for name, _ in calls)))
        return calls


def context_overflow(wire: WireFormat, detail: ErrorDetail, window: int) -> SimResponse:
    """The wire's answer to a request of ``detail.request.input_tokens`` over ``window``."""
    own = getattr(wire, "context_overflow", None)
    if callable(own):
        answer = own(detail, window)
        if isinstance(answer, SimResponse):
            return answer
    sim = detail.request
    tokens = sim.input_tokens if sim is not None else 0
    model = sim.model if sim is not None else "the model"
    message = (
        f"The input ({tokens} tokens) exceeds the context window of {model} ({window} tokens);"
        " shorten the conversation or use a model with a larger context window."
    )
    plain = ErrorDetail(
        kind=ErrorKind.INVALID_REQUEST,
        rng=detail.rng,
        request_id=detail.request_id,
        now_wall=detail.now_wall,
        request=sim,
        message=message,
        param="messages",
        method=detail.method,
        path=detail.path,
    )
    return wire.error(plain)


def broken_answer(schema: Mapping[str, Any]) -> str:
    """A JSON text that no object schema accepts (a string where an object belongs)."""
    return json.dumps("this answer does not follow the schema")
