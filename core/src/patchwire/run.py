"""The tool loop: ``await model.run(prompt, tools=[...], max_steps=..., timeout=...)``.

A run calls the model, runs the tool calls it asks for, sends the results back and
repeats until the model answers without tool calls. Every model call and every hub tool
call goes through the hub's pipeline as any other call does (its own limits, retries,
timeout, cache and metrics); the calls of one turn run concurrently, and the connector's
concurrency limit queues them as it queues any other calls.

A failed tool call becomes a :class:`~patchwire.parts.ToolResultPart` with ``is_error``
and the classified message, so the model can recover, except the categories in
``stop_on`` (auth by default), which end the run with that error (the pipeline has
already escalated it as it escalates any call's error).

Bounds (held by ``tests/run/test_run_props.py``):

- a run makes at most ``max_steps`` model calls; a model that still asks for tools at the
  last step ends the run with :class:`RunBudgetError` (``budget == "steps"``);
- at most ``max_tool_calls`` tool calls run: a turn asking for more than remain ends the
  run before any of them runs;
- no model call starts once ``max_tokens`` or ``max_cost`` is spent (a reply can only be
  counted after it came: the call that crosses the budget is the last one);
- nothing runs past the one deadline, ``timeout`` seconds after the start: the call in
  flight is cancelled and the run ends with :class:`RunDeadlineError`.

Cancelling the task that awaits a run cancels the model call or every tool call in
flight and waits for them to finish cancelling, so no task (and no tool process: a CLI
call kills its process group when cancelled) outlives the run.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import attrs

from patchwire import events
from patchwire.arguments import InvalidArgument, check_prompt
from patchwire.clock import Clock, deadline_scope
from patchwire.errors import Category, DegradedError, PatchwireError, QuotaExhaustedError
from patchwire.parts import ToolCall, ToolResultPart
from patchwire.run_tools import ToolBox, resolve_tools
from patchwire.types import Completion, Message, Usage

if TYPE_CHECKING:
    from patchwire.model import Model, Prompt

__all__ = [
    "DEFAULT_STOP_ON",
    "Approver",
    "Run",
    "RunBudgetError",
    "RunDeadlineError",
    "RunEvent",
    "RunStep",
    "ToolOutcome",
    "run",
    "run_events",
]

T = TypeVar("T")
log = logging.getLogger("patchwire.run")

#: tool failure categories that end a run instead of going back to the model
DEFAULT_STOP_ON: frozenset[Category] = frozenset({Category.AUTH})

#: asked before a call to a tool marked ``needs_approval``; False declines it
Approver = Callable[[ToolCall], Awaitable[bool]]

Budget = Literal["steps", "tool_calls", "tokens", "cost"]
EventKind = Literal[
    "step_started", "model_replied", "tool_started", "tool_finished", "finished", "failed"
]


@attrs.frozen
class ToolOutcome:
    """One tool call of a step: the call, the result sent back, where it ran and how long
    it took; ``category`` is the classified failure (None when the call succeeded)."""

    call: ToolCall
    result: ToolResultPart
    source: str = ""
    latency: float = 0.0
    category: str | None = None


@attrs.frozen
class RunStep:
    """One model call of a run and the tool calls it asked for.

    ``request`` is the conversation sent; ``latency`` covers the model call and the
    tools; ``usage`` is the model call's.
    """

    number: int
    request: tuple[Message, ...] = attrs.field(repr=False)
    reply: Completion
    tools: tuple[ToolOutcome, ...] = ()
    latency: float = 0.0

    @property
    def usage(self) -> Usage:
        return self.reply.usage


@attrs.frozen
class Run:
    """A finished run: the final ``completion``, every step, the whole conversation and
    the totals. ``cost`` is None when no model call had a known price."""

    completion: Completion
    steps: tuple[RunStep, ...]
    messages: tuple[Message, ...] = attrs.field(repr=False)
    usage: Usage = Usage()
    cost: float | None = None
    latency: float = 0.0

    @property
    def tool_calls(self) -> int:
        return sum(len(step.tools) for step in self.steps)

    def step_log(self) -> str:
        """One line per step and per tool call, for logs and the demo; a step whose model
        call was transformed (a context overflow's fallback or trim, a repair) names them,
        since the target or the request it shows is then not the one first asked."""
        lines = []
        for step in self.steps:
            u = step.usage
            after = f" after {', '.join(step.reply.transforms)}" if step.reply.transforms else ""
            lines.append(
                f"step {step.number}: {step.reply.connector}:{step.reply.model}"
                f" {step.reply.finish_reason or '-'} in={u.input_tokens} out={u.output_tokens}"
                f" {step.latency * 1000:.0f}ms{after}"
            )
            for t in step.tools:
                state = f"error ({t.category})" if t.result.is_error else "ok"
                lines.append(f"  {t.call.name} [{t.source}] {state} {t.latency * 1000:.0f}ms")
        return "\n".join(lines)


class RunBudgetError(QuotaExhaustedError):
    """A run used up one of its budgets (``budget``: steps, tool_calls, tokens or cost);
    ``steps`` holds what it did before it stopped."""

    def __init__(self, message: str, budget: Budget, steps: Sequence[RunStep] = ()) -> None:
        super().__init__(message)
        self.budget = budget
        self.steps = tuple(steps)


class RunDeadlineError(DegradedError):
    """A run's deadline passed; ``steps`` holds the steps it finished."""

    def __init__(self, message: str, steps: Sequence[RunStep] = ()) -> None:
        super().__init__(message)
        self.steps = tuple(steps)


@attrs.frozen
class RunEvent:
    """Something that happened in a run (``model.run_stream``).

    ``step_started``, ``model_replied`` (``reply``), ``tool_started`` (``call``),
    ``tool_finished`` (``outcome``), then ``finished`` (``run``) or ``failed``
    (``error``; the stream then raises it).
    """

    kind: EventKind
    step: int
    time: float
    reply: Completion | None = None
    call: ToolCall | None = None
    outcome: ToolOutcome | None = None
    run: Run | None = None
    error: PatchwireError | None = None


def _add(a: Usage, b: Usage) -> Usage:
    return Usage(
        input_tokens=a.input_tokens + b.input_tokens,
        output_tokens=a.output_tokens + b.output_tokens,
        cached_input_tokens=a.cached_input_tokens + b.cached_input_tokens,
        cache_creation_input_tokens=a.cache_creation_input_tokens + b.cache_creation_input_tokens,
        reasoning_tokens=a.reasoning_tokens + b.reasoning_tokens,
        cache_creation_1h_input_tokens=(
            a.cache_creation_1h_input_tokens + b.cache_creation_1h_input_tokens
        ),
        web_search_requests=a.web_search_requests + b.web_search_requests,
    )


def _limit(name: str, value: float | None, *, whole: bool) -> None:
    if value is None:
        return
    kind = int if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or not 0 < value < math.inf:
        what = "a whole number > 0" if whole else "a number > 0"
        raise InvalidArgument(f"{name} must be {what} (or None: no limit), got {value!r}")


@attrs.define
class _State:
    """What a run has done so far; owned by one :func:`run_events` generator."""

    clock: Clock
    start: float
    deadline: float | None
    messages: list[Message]
    steps: list[RunStep] = attrs.field(factory=list)
    usage: Usage = Usage()
    cost: float | None = None
    tool_calls: int = 0

    def time_left(self) -> float | None:
        return None if self.deadline is None else self.deadline - self.clock.now()

    def expired(self) -> bool:
        return self.deadline is not None and self.clock.now() >= self.deadline

    def deadline_error(self) -> RunDeadlineError:
        took = self.clock.now() - self.start
        return RunDeadlineError(
            f"the run's deadline passed after {took:.3f}s and {len(self.steps)} finished"
            " step(s); give run() a longer timeout or fewer steps",
            self.steps,
        )


async def run(model: Model, prompt: Prompt, **options: Any) -> Run:
    """Run the tool loop to its end; see :func:`run_events` for the options."""
    async for event in run_events(model, prompt, **options):
        if event.run is not None:
            return event.run
    raise AssertionError("a run ends with a finished event or raises")  # pragma: no cover


async def run_events(
    model: Model,
    prompt: Prompt,
    *,
    tools: Sequence[Any] = (),
    max_steps: int = 10,
    timeout: float | None = None,
    max_tool_calls: int | None = None,
    max_tokens: int | None = None,
    max_cost: float | None = None,
    stop_on: Collection[Category | str] = DEFAULT_STOP_ON,
    approve: Approver | None = None,
    **params: Any,
) -> AsyncIterator[RunEvent]:
    """The run as events.

    ``tools``: hub tools (``hub.tool("web")``), their ``as_tools()``, functions;
    ``max_steps``: model calls at most; ``timeout``: seconds for the whole run;
    ``max_tool_calls``, ``max_tokens`` (input and output of every model call) and
    ``max_cost`` (dollars of priced calls): the run's budgets; ``stop_on``: tool failure
    categories that end the run; ``approve``: the approver for tools marked
    ``needs_approval``. Other keywords (``temperature``, ``tool_choice``...) go to every
    model call.
    """
    _limit("max_steps", max_steps, whole=True)
    _limit("timeout", timeout, whole=False)
    _limit("max_tool_calls", max_tool_calls, whole=True)
    _limit("max_tokens", max_tokens, whole=True)
    _limit("max_cost", max_cost, whole=False)
    try:
        stops = frozenset(Category(c) for c in stop_on)
    except ValueError:
        raise InvalidArgument(
            f"stop_on must hold error categories ({', '.join(c.value for c in Category)})"
        ) from None
    clock = model.clock
    state = _State(clock, clock.now(), None, list(check_prompt(prompt)))
    if timeout is not None:
        state.deadline = state.start + timeout
    _announce(model, state)
    try:
        box = await _within(state, resolve_tools(tools))
        _check_box(box, approve)
        for number in range(1, max_steps + 1):
            _check_spend(state, max_tokens, max_cost)
            yield RunEvent("step_started", number, clock.now())
            began = clock.now()
            sent = tuple(state.messages)
            reply = await _within(state, _ask(model, sent, box, state, params))
            state.usage = _add(state.usage, reply.usage)
            if reply.cost is not None:
                state.cost = (state.cost or 0.0) + reply.cost
            state.messages.append(reply.message)
            yield RunEvent("model_replied", number, clock.now(), reply=reply)
            calls = reply.tool_calls
            if not calls:
                state.steps.append(RunStep(number, sent, reply, (), clock.now() - began))
                done = Run(
                    reply,
                    tuple(state.steps),
                    tuple(state.messages),
                    state.usage,
                    state.cost,
                    clock.now() - state.start,
                )
                log.info(
                    "run on %s answered after %d step(s), %d tool call(s), %d tokens in %.3fs",
                    model.name,
                    number,
                    state.tool_calls,
                    state.usage.total_tokens,
                    done.latency,
                )
                _report(model, state, number, None)
                yield RunEvent("finished", number, clock.now(), run=done)
                return
            _check_turn(state, number, max_steps, len(calls), max_tool_calls)
            _check_spend(state, max_tokens, max_cost)
            outcomes: dict[int, ToolOutcome] = {}
            for call in calls:
                yield RunEvent("tool_started", number, clock.now(), call=call)
            state.tool_calls += len(calls)
            async for index, outcome in _run_calls(calls, box, state, stops, approve):
                outcomes[index] = outcome
                yield RunEvent("tool_finished", number, clock.now(), outcome=outcome)
            ordered = tuple(outcomes[i] for i in range(len(calls)))
            state.messages.append(Message("tool", [o.result for o in ordered]))
            state.steps.append(RunStep(number, sent, reply, ordered, clock.now() - began))
        raise AssertionError("the last step either answers or fails the steps budget")
    except PatchwireError as err:
        log.info(
            "run on %s failed [%s] after %d step(s), %d tool call(s)",
            model.name,
            err.category,
            len(state.steps),
            state.tool_calls,
        )
        _report(model, state, len(state.steps), err)
        yield RunEvent("failed", len(state.steps) + 1, clock.now(), error=err)
        raise


def _announce(model: Model, state: _State) -> None:
    """RUN_STARTED, emitted in the task that runs the loop, so that a tracing sink can make
    the run the parent of the calls it makes (its RUN_FINISHED is :func:`_report`'s)."""
    connector, _, name = model.targets[0].partition(":")
    model._pipeline.emit(
        events.Event(
            events.EventKind.RUN_STARTED,
            connector,
            name or None,
            time=state.start,
            operation="run",
        )
    )


def _report(model: Model, state: _State, steps: int, error: PatchwireError | None) -> None:
    """The run's event for the hub's metrics (runs, their steps and tool calls), counted on
    the model handle's first target so that ``model.usage`` and the table show it."""
    connector, _, name = model.targets[0].partition(":")
    model._pipeline.emit(
        events.Event(
            events.EventKind.RUN_FINISHED,
            connector,
            name or None,
            time=state.clock.now(),
            operation="run",
            category=None if error is None else error.category.value,
            duration=state.clock.now() - state.start,
            data={"steps": steps, "tool_calls": state.tool_calls},
        )
    )


def _check_box(box: ToolBox, approve: Approver | None) -> None:
    unbound = [s.name for s in box.specs if s.name not in box]
    if unbound:
        raise InvalidArgument(
            f"nothing runs tool(s) {', '.join(unbound)}: a run needs hub tools or functions;"
            " a ToolSpec or record type only describes a tool (call complete() and run the"
            " calls yourself, or pass the function)"
        )
    asking = sorted(name for name, t in box.bound.items() if t.needs_approval)
    if asking and approve is None:
        raise InvalidArgument(
            f"tool(s) {', '.join(asking)} need approval: pass approve=<async function of the"
            " call returning True or False>"
        )


def _check_spend(state: _State, max_tokens: int | None, max_cost: float | None) -> None:
    if max_tokens is not None and state.usage.total_tokens >= max_tokens:
        raise RunBudgetError(
            f"the run used {state.usage.total_tokens} tokens of its max_tokens={max_tokens}",
            "tokens",
            state.steps,
        )
    if max_cost is not None and state.cost is not None and state.cost >= max_cost:
        raise RunBudgetError(
            f"the run cost ${state.cost:.6f} of its max_cost=${max_cost}", "cost", state.steps
        )


def _check_turn(
    state: _State, number: int, max_steps: int, calls: int, max_tool_calls: int | None
) -> None:
    if number == max_steps:
        raise RunBudgetError(
            f"the model still asked for {calls} tool call(s) at step {number} of"
            f" max_steps={max_steps}; raise max_steps or offer fewer tools",
            "steps",
            state.steps,
        )
    if max_tool_calls is not None and state.tool_calls + calls > max_tool_calls:
        raise RunBudgetError(
            f"step {number} asked for {calls} tool call(s) after {state.tool_calls};"
            f" max_tool_calls={max_tool_calls}",
            "tool_calls",
            state.steps,
        )


async def _ask(
    model: Model,
    messages: tuple[Message, ...],
    box: ToolBox,
    state: _State,
    params: dict[str, Any],
) -> Completion:
    left = state.time_left()
    return await model.complete(
        messages, tools=list(box.specs) or None, timeout=left, cache=False, **params
    )


async def _within(state: _State, work: Awaitable[T]) -> T:
    """``work`` under the run's deadline; its passing is a :class:`RunDeadlineError`."""
    if state.expired():
        if asyncio.iscoroutine(work):
            work.close()
        raise state.deadline_error()
    try:
        with deadline_scope(state.clock, state.deadline):
            return await work
    except PatchwireError:
        # The call's own budget was the run's remaining time: its timeout is the run's.
        if state.expired():
            raise state.deadline_error() from None
        raise
    except TimeoutError:
        raise state.deadline_error() from None


async def _run_calls(
    calls: Sequence[ToolCall],
    box: ToolBox,
    state: _State,
    stops: frozenset[Category],
    approve: Approver | None,
) -> AsyncIterator[tuple[int, ToolOutcome]]:
    """Each call's outcome as it finishes; every call's task ends before this does."""
    tasks = [
        asyncio.ensure_future(_one(i, call, box, state, stops, approve))
        for i, call in enumerate(calls)
    ]
    try:
        for next_done in asyncio.as_completed(tasks):
            yield await next_done
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _one(
    index: int,
    call: ToolCall,
    box: ToolBox,
    state: _State,
    stops: frozenset[Category],
    approve: Approver | None,
) -> tuple[int, ToolOutcome]:
    began = state.clock.now()

    def failed(message: str, category: str, source: str = "") -> tuple[int, ToolOutcome]:
        result = ToolResultPart.for_call(call, message, is_error=True)
        return index, ToolOutcome(call, result, source, state.clock.now() - began, category)

    tool = box.bound.get(call.name)
    if tool is None:
        offered = ", ".join(sorted(box.bound)) or "none"
        return failed(
            f"there is no tool named {call.name!r}; offered: {offered}", "invalid_request"
        )
    if tool.needs_approval:
        assert approve is not None  # _check_box refused the run otherwise
        try:
            approved = await _within(state, approve(call))
        except PatchwireError:
            raise
        except Exception as exc:  # the approver's own bug: the call does not run
            log.warning("the approver failed on %s: %s", call.name, type(exc).__name__)
            approved = False
        if not approved:
            return failed("the application declined this call", "declined", tool.source)
    try:
        result = await _within(state, tool.runner(call, state.time_left()))
    except RunDeadlineError:
        raise
    except PatchwireError as err:
        if err.category in stops:
            raise
        return failed(f"[{err.category}] {err.message}", err.category.value, tool.source)
    except Exception as exc:  # an application function's own failure goes back to the model
        return failed(f"{type(exc).__name__}: {exc}", "tool_error", tool.source)
    return index, ToolOutcome(call, result, tool.source, state.clock.now() - began)
