"""What one event costs a sink, and what the metrics aggregator holds after a million.

    .venv/bin/python benchmarks/event_cost.py            # full run (about a minute)
    .venv/bin/python benchmarks/event_cost.py --quick    # smoke run

Per-event cost is the median over several runs of (elapsed / events) for a realistic mix
of events across four connector/model series, compared with a baseline sink that only
increments an int (the floor: one Python call). Memory is measured with tracemalloc while
the virtual clock moves one second per thousand events: once the clock has gone round the
aggregator's ring of time slots (300 s, i.e. 300,000 events here) memory must stop
growing, so it is the same after half a million events as after a million.
"""

from __future__ import annotations

import argparse
import gc
import logging
import statistics
import time
import tracemalloc
from collections.abc import Callable, Sequence

from patchwire.clock import VirtualClock
from patchwire.events import Event, EventBus, EventKind
from patchwire.logsink import LoggingSink
from patchwire.metrics import MetricsAggregator

SERIES = (
    ("openai", "gpt-4o-mini"),
    ("openai", "gpt-4o"),
    ("anthropic", "claude-haiku-4-5"),
    ("gemini", "gemini-2.0-flash"),
)
CLOCK_STEP_EVERY = 1000  # events per virtual second


class CountingSink:
    """The baseline: the least a sink can do."""

    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, event: Event) -> None:
        self.n += 1


def workload() -> list[Event]:
    """A repeating mix resembling a busy hub: most calls succeed first time, some retry,
    some fail, some hit the cache, a few wait in the limiter."""
    events: list[Event] = []
    for call_id in range(1, 1001):
        connector, model = SERIES[call_id % len(SERIES)]
        latency = 0.05 + (call_id * 7919 % 1000) / 400.0
        events.append(Event(EventKind.CALL_STARTED, connector, model, call_id=call_id))
        if call_id % 3 == 0:
            events.append(Event(EventKind.CACHE_MISS, connector, model, call_id=call_id))
        if call_id % 10 == 0:
            events.append(Event(EventKind.THROTTLED, connector, model, duration=0.2))
        if call_id % 7 == 0:
            events.append(
                Event(EventKind.ATTEMPT_FAILED, connector, model, attempt=1, category="transient")
            )
            events.append(
                Event(EventKind.RETRY_SCHEDULED, connector, model, attempt=1, duration=0.8)
            )
        if call_id % 25 == 0:
            events.append(Event(EventKind.CALL_FAILED, connector, model, category="rate_limited"))
        else:
            events.append(
                Event(
                    EventKind.CALL_SUCCEEDED,
                    connector,
                    model,
                    duration=latency,
                    retries=1 if call_id % 7 == 0 else 0,
                    input_tokens=800,
                    output_tokens=120,
                    cost=0.0002,
                )
            )
        if call_id % 50 == 0:
            events.append(
                Event(
                    EventKind.QUOTA_REPORTED,
                    connector,
                    model,
                    data={"requests_limit": 500, "requests_remaining": 420},
                )
            )
    return events


def feed(sink: Callable[[Event], None], clock: VirtualClock, events: list[Event], n: int) -> int:
    """Send ``n`` events (cycling through ``events``); returns elapsed nanoseconds."""
    size = len(events)
    sent = 0
    elapsed = 0
    while sent < n:
        chunk = min(CLOCK_STEP_EVERY, n - sent)
        start = sent % size
        batch = events[start : start + chunk]
        if len(batch) < chunk:
            batch = batch + events[: chunk - len(batch)]
        began = time.perf_counter_ns()
        for event in batch:
            sink(event)
        elapsed += time.perf_counter_ns() - began
        clock.advance(1.0)
        sent += chunk
    return elapsed


def per_event_ns(
    make: Callable[[VirtualClock], Callable[[Event], None]], n: int, runs: int
) -> float:
    events = workload()
    samples = []
    for _ in range(runs):
        clock = VirtualClock()
        sink = make(clock)
        gc.collect()
        samples.append(feed(sink, clock, events, n) / n)
    return statistics.median(samples)


def bus_with_metrics_and_logging(clock: VirtualClock) -> Callable[[Event], None]:
    bus = EventBus()
    bus.add("metrics", MetricsAggregator(clock))
    bus.add("logging", LoggingSink())
    return bus.emit


def retained_bytes(n: int) -> int:
    """Bytes still allocated by the aggregator after ``n`` events (tracemalloc)."""
    events = workload()
    clock = VirtualClock()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    aggregator = MetricsAggregator(clock)
    feed(aggregator, clock, events, n)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert aggregator.snapshot().connectors  # keep it alive until measured
    return after - before


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000, help="events per timing run")
    parser.add_argument("--runs", type=int, default=7, help="timing runs (the median is shown)")
    parser.add_argument("--memory-events", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="a few seconds, for a smoke test")
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.runs, args.memory_events = 20_000, 3, 100_000
    logging.getLogger("patchwire.calls").setLevel(logging.WARNING)

    rows: list[tuple[str, Callable[[VirtualClock], Callable[[Event], None]]]] = [
        ("baseline: CountingSink (int += 1)", lambda clock: CountingSink()),
        ("MetricsAggregator", lambda clock: MetricsAggregator(clock)),
        ("LoggingSink (level WARNING: failures logged)", lambda clock: LoggingSink()),
        ("EventBus.emit -> metrics + logging", bus_with_metrics_and_logging),
    ]
    print(f"per-event cost: median of {args.runs} runs x {args.events:,} events")
    results = [(name, per_event_ns(make, args.events, args.runs)) for name, make in rows]
    base = results[0][1]
    print(f"{'sink':<46} {'ns/event':>10} {'x baseline':>11}")
    for name, ns in results:
        print(f"{name:<46} {ns:>10.0f} {ns / base:>11.1f}")

    print()
    print("memory retained by MetricsAggregator (tracemalloc; 1 virtual s per 1,000 events)")
    print(f"{'events':>12} {'KiB':>10}")
    for n in sorted({args.memory_events // 10, args.memory_events // 2, args.memory_events}):
        print(f"{n:>12,} {retained_bytes(n) / 1024:>10.1f}")


if __name__ == "__main__":
    main()
