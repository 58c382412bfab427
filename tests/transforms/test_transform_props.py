"""Properties of the request transforms: trimming never separates a tool call from its
result and always keeps the system message (and the latest turn); a transform runs at
most once per failure, and each within its own bound per call."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from patchwire import Message, ToolCall, ToolResultPart
from patchwire.clock import VirtualClock
from patchwire.errors import InvalidRequestError, PatchwireError, TransientError
from patchwire.events import EventKind
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.testing import FakeConnector, FakeScript
from patchwire.testing.fake import FakePlugin
from patchwire.transforms import trim_messages

PROPS = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
HOST = PluginHost(load_entry_points=False)
HOST.register(FakePlugin(), "fake")

text = st.text(alphabet="abcdefgh ", min_size=0, max_size=60)


@st.composite
def conversations(draw: st.DrawFn) -> list[Message]:
    """System message(s), then turns: user text, assistant text, or an assistant message
    with calls whose results come in one tool message or one per result."""
    messages = [Message("system", draw(text) or "s")]
    calls = 0
    for _ in range(draw(st.integers(1, 10))):
        kind = draw(st.sampled_from(["user", "assistant", "tools", "tools_split"]))
        if kind in ("user", "assistant"):
            messages.append(Message(kind, draw(text) or "x"))
            continue
        batch = [
            ToolCall(f"c{calls + i}", "t", {}, draw(text)) for i in range(draw(st.integers(1, 3)))
        ]
        calls += len(batch)
        messages.append(Message("assistant", batch))
        results = [ToolResultPart.for_call(c, draw(text)) for c in batch]
        if kind == "tools":
            messages.append(Message("tool", results))
        else:
            messages.extend(Message("tool", [r]) for r in results)
    return messages


def pairs(messages: Sequence[Message]) -> tuple[set[str], set[str]]:
    calls, results = set(), set()
    for m in messages:
        if isinstance(m.content, str):
            continue
        calls |= {p.id for p in m.content if isinstance(p, ToolCall)}
        results |= {p.call_id for p in m.content if isinstance(p, ToolResultPart)}
    return calls, results


@PROPS
@given(messages=conversations(), budget=st.integers(0, 800))
def test_trimming_never_separates_a_tool_call_from_its_result_and_keeps_the_system_message(
    messages: list[Message], budget: int
) -> None:
    def fits(candidate: Sequence[Message]) -> bool:
        return sum(len(m.text) + 4 for m in candidate) <= budget

    trimmed = trim_messages(messages, fits)
    if trimmed is None:
        return
    assert fits(trimmed) and len(trimmed) <= len(messages) + 1
    assert trimmed[0] == messages[0]  # the system message
    calls, results = pairs(trimmed)
    assert calls == results
    assert trimmed[-1] == messages[-1]  # the latest turn
    first = next(m for m in trimmed if m.role != "system")
    assert first.role == "user"


failure = st.sampled_from(
    [
        "ok",
        '{"n": 1}',
        "not json",
        TransientError("flaky"),
        InvalidRequestError("bad temperature"),
        InvalidRequestError("x", code="context_length_exceeded"),
        InvalidRequestError("prompt is too long: 900 tokens > 100 maximum"),
    ]
)


@PROPS
@given(
    outcomes=st.lists(failure, min_size=1, max_size=10),
    steps=st.sampled_from([[], ["fallback"], ["trim"], ["fallback", "trim"], ["trim", "fallback"]]),
    repairs=st.integers(0, 3),
    output=st.booleans(),
)
async def test_a_transform_runs_at_most_once_per_failure(
    outcomes: list[Any], steps: list[str], repairs: int, output: bool
) -> None:
    clock = VirtualClock()
    script = FakeScript().extend(outcomes)
    script.default = "not json"
    FakeConnector.scripts["fake"] = script
    config = {
        "connectors": {
            "fake": {
                "retry": {"max_attempts": 1},
                "on_context_overflow": steps,
                "repair_attempts": repairs,
                "context_windows": {"small": 20, "big": 2000},
            }
        },
        "routes": {"r": {"targets": ["fake:small", "fake:big"]}},
    }
    events: list[Any] = []
    conversation = [Message("system", "s")] + [Message("user", "long " * 30)] * 3
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    async with Hub.from_dict(config, host=HOST, clock=clock, seed=2) as hub:
        hub.bus.add("t", events.append)
        try:
            reply: Any = await hub.model("r").complete(
                conversation, output=schema if output else None
            )
            ran = reply.transforms
        except PatchwireError:
            ran = None
    done = [e.data["transform"] for e in events if e.kind is EventKind.REQUEST_TRANSFORMED]
    failures = [e for e in events if e.kind is EventKind.ATTEMPT_FAILED]
    # one transform per failure at most, so every send but the first follows one
    assert len(done) <= max(0, len(script.calls) - 1)
    assert len(script.calls) <= 1 + len(done) + sum(
        1 for f in failures if f.category == "transient"
    )
    for name in ("fallback", "trim"):
        assert done.count(name) <= (1 if name in steps else 0)
    assert done.count("repair") <= repairs
    if ran is not None:
        assert list(ran) == done
