"""The request-headers hook reads the application's context through the API's ContextVar
itself (issue 19: ``context.get_current()`` reached it through two Python calls on every
request). It must read what ``get_current()`` reads, in every task and context attached,
and any other runtime context must still be asked through ``get_current``."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from opentelemetry import context, trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from patchwire_otel.plugin import _context_getter


def test_it_reads_what_get_current_reads() -> None:
    current = _context_getter(context)
    assert current() is context.get_current()
    parent = SpanContext(0x1234, 0x5678, is_remote=True, trace_flags=TraceFlags(1))
    token = context.attach(trace.set_span_in_context(NonRecordingSpan(parent)))
    try:
        assert current() is context.get_current() and current()
    finally:
        context.detach(token)
    assert current() is context.get_current()


def test_it_follows_each_tasks_context() -> None:
    current = _context_getter(context)

    async def in_a_task(attached: bool) -> bool:
        token = context.attach(context.set_value("k", "v")) if attached else None
        await asyncio.sleep(0)
        seen = current() is context.get_current() and bool(current()) is attached
        if token is not None:
            context.detach(token)
        return seen

    async def both() -> list[bool]:
        return list(await asyncio.gather(in_a_task(True), in_a_task(False)))

    assert asyncio.run(both()) == [True, True]


def test_another_runtime_context_is_asked_through_get_current() -> None:
    class Runtime:
        _current_context = None  # not the API's ContextVar

    asked = []
    api = SimpleNamespace(_RUNTIME_CONTEXT=Runtime(), get_current=lambda: asked.append(1) or "c")
    current = _context_getter(api)
    assert current() == "c" and asked == [1]
