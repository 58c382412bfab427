"""What the rich-call code (issue 15) adds to a text-only ``complete()``, step by step.

``pipeline_overhead.py`` measures whole calls, whose medians swing by tens of
microseconds on a shared machine; the steps the rich-call code added are each timed here
alone, best of 15 repeats, against the same step without them, and summed:

- the ``Message`` content converter (a string stays a string);
- ``split_features`` on keywords that hold no feature;
- ``CompletionRequest``'s extra ``features`` field, built twice per call (cache probe and route);
- the pipeline's capability check (``check_request``), without and with ``max_tokens``;
- ``Completion``'s ``parts`` and ``parsed`` fields in the pipeline's rebuild;
- the ``output`` test in ``Model.complete`` and ``Pipeline.complete``.

Run with ``.venv/bin/python benchmarks/rich_overhead.py [--number 200000]``.
"""

from __future__ import annotations

import argparse
import timeit
from collections.abc import Mapping
from typing import Any

import attrs
from patchwire.clock import MonotonicClock
from patchwire.config import ConnectorConfig
from patchwire.connector import Connector, ConnectorContext
from patchwire.features import check_request, split_features
from patchwire.types import Completion, CompletionRequest, Message, Usage, _check_role, _freeze


@attrs.frozen(slots=True)
class TextMessage:
    """``Message`` as it was before parts."""

    role: str = attrs.field(validator=_check_role)
    content: str


@attrs.frozen(slots=True)
class TextRequest:
    """``CompletionRequest`` as it was before features."""

    model: str
    messages: tuple[Any, ...]
    params: Mapping[str, Any] = attrs.field(factory=dict, converter=_freeze)
    idempotency_key: str | None = None


@attrs.frozen(slots=True)
class TextCompletion:
    """``Completion`` as it was before parts and parsed."""

    text: str
    usage: Usage = Usage()
    model: str = ""
    connector: str = ""
    finish_reason: str | None = None
    request_id: str | None = None
    cached: bool = False
    attempts: int = 1
    latency: float = 0.0
    cost: float | None = None
    raw: Mapping[str, Any] | None = attrs.field(default=None, eq=False, repr=False)


class Plain(Connector):
    type_name = "plain"


def main(number: int) -> None:
    ctx = ConnectorContext("p", ConnectorConfig("p", "plain"), MonotonicClock(), lambda: None, None)  # type: ignore[arg-type]
    names = {
        "Message": Message,
        "TextMessage": TextMessage,
        "CompletionRequest": CompletionRequest,
        "TextRequest": TextRequest,
        "Completion": Completion,
        "TextCompletion": TextCompletion,
        "split_features": split_features,
        "check_request": check_request,
        "conn": Plain(ctx),
        "msgs": (Message("user", "hi"),),
        "req": CompletionRequest("m", (Message("user", "hi"),), {}),
        "req_max": CompletionRequest("m", (Message("user", "hi"),), {"max_tokens": 50}),
        "u": Usage(3, 1),
        "empty": {},
        "none": None,
    }

    def best(stmt: str) -> float:
        runs = timeit.repeat(stmt, globals=names, number=number, repeat=15)
        return min(runs) / number * 1e6

    completion = (
        'text="ok", usage=u, model="m", connector="i", finish_reason=None, request_id=None,'
        " cached=False, attempts=1, latency=0.1, cost=None, raw=None"
    )
    rows = [
        (
            "Message() with the content converter",
            best('Message("user", "hi")') - best('TextMessage("user", "hi")'),
        ),
        ("split_features({})", best("split_features(empty)")),
        (
            "CompletionRequest features field, x2",
            2
            * (
                best('CompletionRequest("m", msgs, empty, None, none)')
                - best('TextRequest("m", msgs, empty, None)')
            ),
        ),
        ("check_request, no params", best("check_request(conn, req)")),
        (
            "check_request, extra for max_tokens=50",
            best("check_request(conn, req_max)") - best("check_request(conn, req)"),
        ),
        (
            "Completion rebuild with parts= and parsed=",
            best(f"Completion({completion}, parts=(), parsed=None)")
            - best(f"TextCompletion({completion})"),
        ),
        (
            "output tests (model + pipeline)",
            best("none.output if none else None; none is not None"),
        ),
    ]
    for name, micros in rows:
        print(f"{name:<48} {micros:7.3f} µs")
    print(f"{'added to a text-only complete()':<48} {sum(m for _, m in rows):7.3f} µs")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--number", type=int, default=200_000)
    main(parser.parse_args().number)
