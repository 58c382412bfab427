"""A stdio server's stderr in the log, bounded. Unit tests over a real pipe written by the
test itself (no process, no clock: end of file comes when the test closes its end)."""

from __future__ import annotations

import asyncio
import logging
import os

from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire_mcp.stderr import StderrPump

MAX_LINES, MAX_LINE, KEEP = 4, 30, 3


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def pump_lines(lines: list[str]) -> tuple[StderrPump, list[logging.LogRecord], int]:
    log = logging.getLogger("test.stderr.pump")
    log.propagate = False
    log.setLevel(logging.INFO)
    handler = Collect()
    log.addHandler(handler)
    eofs = 0

    def on_eof() -> None:
        nonlocal eofs
        eofs += 1

    try:
        pump = StderrPump(log, max_lines=MAX_LINES, max_line=MAX_LINE, keep=KEEP, on_eof=on_eof)
        writer = pump.errlog
        for line in lines:
            writer.write(line + "\n")
        pump.spawned()  # closes our end: nobody else holds it, so end of file follows
        assert await pump.wait_eof(5)
        await pump.aclose()
    finally:
        log.removeHandler(handler)
    return pump, handler.records, eofs


printable = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=80)


@settings(max_examples=40, deadline=None)
@given(lines=st.lists(printable, max_size=12))
def test_stderr_log_is_bounded_and_keeps_the_last_lines(lines: list[str]) -> None:
    """Invariant: at most max_lines lines are logged per process (then one warning), none
    longer than max_line plus the note of what was cut, the rest counted as dropped, the
    last ``keep`` lines kept for error messages, and end of file reported exactly once."""
    pump, records, eofs = asyncio.run(pump_lines(lines))
    logged = [r.getMessage() for r in records if r.levelno == logging.INFO]
    assert len(logged) == min(len(lines), MAX_LINES)
    for message, line in zip(logged, lines, strict=False):
        text = message.removeprefix("stderr: ")
        assert text == line if len(line) <= MAX_LINE else text.startswith(line[:MAX_LINE])
        assert len(text) <= MAX_LINE + len("... (99 more characters)")
    warnings = [r for r in records if r.levelno == logging.WARNING]
    assert len(warnings) == (1 if len(lines) >= MAX_LINES else 0)
    assert pump.dropped == max(0, len(lines) - MAX_LINES)
    assert [t[:MAX_LINE] for t in pump.tail] == [line[:MAX_LINE] for line in lines[-KEEP:]]
    assert eofs == 1


async def test_closing_a_pump_whose_pipe_is_still_held_reports_no_end_of_file() -> None:
    eofs: list[int] = []
    pump = StderrPump(logging.getLogger("test.stderr.held"), on_eof=lambda: eofs.append(1))
    held = os.dup(pump.errlog.fileno())  # as a server's grandchild would hold it
    try:
        await asyncio.sleep(0)
        await pump.aclose()
    finally:
        os.close(held)
    assert eofs == [] and pump.closed
