"""EventBus.fields_now: the fields_only answer as a plain callable the bus plans whenever
its sinks change, which a recorder calls instead of the property (issue 19: asked twice per
call while a quiet sink, OpenTelemetry's plugin without an SDK, listens). Invariant: for
any sinks, after any change of the sinks or of what a quiet sink answers, fields_now() and
fields_only give the former property's answer, asking the same quiet sinks in the same
order as it asked them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st
from patchwire.clock import VirtualClock
from patchwire.events import _FIELD_SINK_TYPES, Event, EventBus
from patchwire.logsink import LoggingSink
from patchwire.metrics import MetricsAggregator


class _Broken:
    def __bool__(self) -> bool:
        raise RuntimeError("no answer")


def former_fields_only(bus: EventBus) -> bool:
    """The property as it read before, from the bus's sinks."""
    if not all(q is not None or type(s) in _FIELD_SINK_TYPES for _, s, q in bus._sinks):
        return False
    for _, _, quiet in bus._sinks:
        if quiet is None:
            continue
        try:
            if not quiet():
                return False
        except Exception:
            return False
    return True


ANSWERS: list[Any] = [True, False, None, 1, 0, "", "yes", _Broken(), RuntimeError("down")]
KINDS = ["metrics", "logging", "plain", "quiet"]
# ("add", kind, first answer), ("remove", which, _) or ("answer", which quiet, answer)
steps = st.lists(
    st.tuples(
        st.sampled_from(["add", "add", "remove", "answer"]),
        st.integers(0, 7),
        st.integers(0, len(ANSWERS) - 1),
    ),
    max_size=10,
)


@given(steps)
@example([("add", 3, 0)])  # one quiet sink that promises
@example([("add", 3, 0), ("add", 3, 7)])  # a second whose answer breaks
@example([("add", 0, 0), ("add", 3, 8), ("answer", 0, 0)])  # a quiet sink that wakes
@example([("add", 2, 0), ("add", 3, 0)])  # a plain sink: no promise is asked
def test_fields_now_answers_as_the_former_property(plan: list[tuple[str, int, int]]) -> None:
    bus = EventBus()
    asked: list[str] = []
    seen: list[Event] = []
    names: list[str] = []
    answer: dict[str, int] = {}

    def quiet_of(name: str) -> Callable[[], Any]:
        def quiet() -> Any:
            asked.append(name)
            said = ANSWERS[answer[name]]
            if isinstance(said, Exception):
                raise said
            return said

        return quiet

    for number, (verb, which, said) in enumerate(plan):
        if verb == "remove" and names:
            bus.remove(names.pop(which % len(names)))
        elif verb == "answer" and answer:
            answer[sorted(answer)[which % len(answer)]] = said
        elif verb == "add":
            kind = KINDS[which % len(KINDS)]
            name = f"{kind}{number}"
            names.append(name)
            if kind == "metrics":
                bus.add(name, MetricsAggregator(VirtualClock()))
            elif kind == "logging":
                bus.add(name, LoggingSink())
            elif kind == "plain":
                bus.add(name, seen.append)
            else:
                answer[name] = said
                bus.add(name, lambda event: None, quiet=quiet_of(name))
        for read in (bus.fields_now, lambda: bus.fields_only):
            asked.clear()
            expected = former_fields_only(bus)
            theirs = list(asked)
            asked.clear()
            got = read()
            assert type(got) is bool
            assert got == expected
            assert asked == theirs
