"""``stream``: the chunks join to what the server sent, the last one carries usage, a cut
stream is an error, and leaving early releases the response."""

from __future__ import annotations

import asyncio
from typing import Any

from patchwire.errors import Category
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.testing.conformance.complete import check_usage_types
from patchwire.testing.conformance.operation import PROMPT, RETRYABLE, OperationChecks
from patchwire.testing.conformance.rules import require
from patchwire.testing.conformance.watch import cancel_outcome
from patchwire.testing.sim_faults import FaultMix
from patchwire.types import StreamChunk

__all__ = ["StreamConformance"]


class StreamConformance(OperationChecks):
    """Subclass with ``plugin``, ``wire`` and ``model`` set to run every check on ``stream``."""

    operation = "stream"
    truncation_rule = "stream-truncated"

    async def invoke(self, hub: Hub, **options: Any) -> Any:
        options.setdefault("max_tokens", 16)
        return [c async for c in hub.model(self.model_ref()).stream(PROMPT, **options)]

    async def test_chunks_are_what_the_server_sent(self, conformance_host: PluginHost) -> None:
        async with self.run(conformance_host) as run:
            chunks = await self.invoke(run.hub)
            sent = run.records[-1].reply
            frame = run.frame()
            require(
                bool(chunks) and all(isinstance(c, StreamChunk) for c in chunks),
                "result-types",
                expected="StreamChunk values",
                observed=repr(chunks)[:200],
                frame=frame,
            )
            text = "".join(c.text for c in chunks)
            require(
                text == sent.text,
                "faithful-text",
                expected=repr(sent.text),
                observed=repr(text),
                frame=frame,
            )
            last = chunks[-1]
            usage = last.usage
            require(
                usage is not None
                and (usage.input_tokens, usage.output_tokens)
                == (sent.input_tokens, sent.output_tokens),
                "stream-final-usage",
                expected=f"last chunk usage input={sent.input_tokens} output={sent.output_tokens}",
                observed=f"last chunk {last!r}"[:300],
                frame=frame,
            )
            check_usage_types(usage, frame)
            require(
                any(c.finish_reason for c in chunks),
                "faithful-finish",
                expected="a chunk with the server's finish reason",
                observed="no chunk has a finish_reason",
                frame=frame,
            )

    async def test_broken_stream_is_an_error(self, conformance_host: PluginHost) -> None:
        async with self.run(conformance_host, FaultMix(broken_stream=1.0)) as run:
            error = await run.error_of(self.invoke(run.hub))
            require(
                error is not None and error.category in (Category.INTEGRATION, *RETRYABLE),
                "stream-truncated",
                expected="a classified error when the connection drops mid-stream",
                observed="a short success" if error is None else str(error.category),
                frame=run.frame(error),
            )

    async def test_leaving_early_releases_the_response(self, conformance_host: PluginHost) -> None:
        # The server pauses between frames, so the response is still being written when
        # the consumer leaves: only the connector's release can close it.
        async with self.run(conformance_host, stream_pause=0.05) as run:
            census = run.census()
            stream = run.hub.model(self.model_ref()).stream(PROMPT, max_tokens=4096)
            async for _ in stream:
                break
            await stream.aclose()  # type: ignore[attr-defined]
            await asyncio.sleep(0.01)
            still = run.opened_since(census)
            require(
                not still,
                "stream-early-exit",
                expected="no open response after the consumer closed the stream",
                observed="; ".join(still),
                frame=run.frame(),
            )

    async def test_cancel_mid_stream_ends_it_and_leaves_nothing(
        self, conformance_host: PluginHost
    ) -> None:
        async with self.run(conformance_host, stream_pause=0.05) as run:
            got: list[Any] = []

            async def consume() -> None:
                async for chunk in run.hub.model(self.model_ref()).stream(PROMPT, max_tokens=4096):
                    got.append(chunk)

            task = asyncio.ensure_future(consume())
            while not got and not task.done():
                await asyncio.sleep(0.01)
            outcome = await cancel_outcome(task)
            if outcome == "it returned a result":
                outcome = "the stream finished anyway"
            require(
                outcome == "cancelled",
                "cancel",
                expected="CancelledError right after task.cancel() mid-stream",
                observed=f"{outcome} (after {len(got)} chunk(s))",
                frame=run.frame(),
            )
