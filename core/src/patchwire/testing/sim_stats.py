"""What the simulator saw: counters for ``/stats`` and a journal of recent requests."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["SimRecord", "SimStats", "StatsRecorder"]

JOURNAL_SIZE = 10_000


@attrs.frozen
class SimRecord:
    """One request as the server handled it.

    ``arrived`` and ``answered`` are ``time.monotonic()`` readings (``answered`` is None
    for a hang or reset, which never answer). ``status`` is None when no status line was
    sent. ``retry_after`` is the wait the answer asked for, in seconds, however it was
    written (a header or the message text).
    """

    path: str
    arrived: float
    answered: float | None
    status: int | None
    fault: str | None = None
    limited: str | None = None  # "requests", "tokens" or "too_large" for an enforced limit
    retry_after: float | None = None
    stream: bool = False
    request_id: str = ""
    # What the server read and what it meant to send, for faithfulness checks: the raw
    # request body, the parsed SimRequest (None when it did not parse) and the SimReply
    # (None for an error answer). Kept out of repr and equality: they can be large.
    body: bytes = attrs.field(default=b"", repr=False, eq=False)
    request: Any = attrs.field(default=None, repr=False, eq=False)
    reply: Any = attrs.field(default=None, repr=False, eq=False)


@attrs.frozen
class SimStats:
    """Counts since the simulator started.

    ``faults`` counts injected faults by kind, ``limited`` the refusals of the enforced
    rate limits by limit; ``input_tokens``/``output_tokens`` are the usage reported in
    complete successful answers.
    """

    requests: int
    by_path: Mapping[str, int]
    by_status: Mapping[int, int]
    faults: Mapping[str, int]
    limited: Mapping[str, int]
    input_tokens: int
    output_tokens: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "by_path": dict(self.by_path),
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            "faults": dict(self.faults),
            "limited": dict(self.limited),
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
        }


class StatsRecorder:
    """The simulator's running counters (single event loop: no locking needed)."""

    def __init__(self) -> None:
        self.requests = 0
        self.by_path: Counter[str] = Counter()
        self.by_status: Counter[int] = Counter()
        self.faults: Counter[str] = Counter()
        self.limited: Counter[str] = Counter()
        self.input_tokens = 0
        self.output_tokens = 0
        self.journal: deque[SimRecord] = deque(maxlen=JOURNAL_SIZE)

    def arrived(self, path: str) -> None:
        self.requests += 1
        self.by_path[path] += 1

    def record(self, record: SimRecord) -> None:
        if record.status is not None:
            self.by_status[record.status] += 1
        if record.fault is not None:
            self.faults[record.fault] += 1
        if record.limited is not None:
            self.limited[record.limited] += 1
        self.journal.append(record)

    def served(self, input_tokens: int, output_tokens: int) -> None:
        self.input_tokens += input_tokens
        self.output_tokens += output_tokens

    def snapshot(self) -> SimStats:
        return SimStats(
            requests=self.requests,
            by_path=dict(self.by_path),
            by_status=dict(self.by_status),
            faults=dict(self.faults),
            limited=dict(self.limited),
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
        )
