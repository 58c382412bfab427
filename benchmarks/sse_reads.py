"""What parsing server-sent events costs as reads grow: per event, and for one long event.

    .venv/bin/python benchmarks/sse_reads.py

Two shapes a slow consumer or a large event produce: many events arriving in one read
(a client that fell behind reads them all at once), and one event (a big tool-call
argument, say) arriving over many 4 KB reads. Both must cost in proportion to the bytes:
per event flat in the first, time linear in size in the second. Process CPU time.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator

from patchwire.sse import iter_sse


class _Content:
    def __init__(self, reads: list[bytes]) -> None:
        self._reads = reads

    async def iter_any(self) -> AsyncIterator[bytes]:
        for read in self._reads:
            yield read


class _Response:
    def __init__(self, reads: list[bytes]) -> None:
        self.content = _Content(reads)


async def count(reads: list[bytes]) -> int:
    n = 0
    async for _ in iter_sse(_Response(reads), max_event_bytes=1 << 30):  # type: ignore[arg-type]
        n += 1
    return n


def main() -> None:
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("| events | µs per event, all in one read | one event of | ms over 4 KB reads |")
    print("|--------|-------------------------------|--------------|--------------------|")
    for events in (1_000, 10_000, 50_000):
        body = b"".join(
            b'data: {"choices":[{"delta":{"content":" word%d"}}]}\n\n' % i for i in range(events)
        )
        start = time.process_time()
        assert asyncio.run(count([body])) == events
        per_event = (time.process_time() - start) / events
        line = b"data: " + b"x" * (events * 50) + b"\n\n"
        reads = [line[i : i + 4096] for i in range(0, len(line), 4096)]
        start = time.process_time()
        assert asyncio.run(count(reads)) == 1
        whole = time.process_time() - start
        print(
            f"| {events:,} | {per_event * 1e6:.2f} | {len(line) // 1000:,} KB | {whole * 1e3:.1f} |"
        )


if __name__ == "__main__":
    main()
