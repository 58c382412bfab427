"""``complete``: the result says what the server sent."""

from __future__ import annotations

from typing import Any

from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.testing.conformance.operation import PROMPT, OperationChecks
from patchwire.testing.conformance.rules import require
from patchwire.types import FINISH_REASONS, Completion, Usage

__all__ = ["CompleteConformance", "check_usage_types"]


def check_usage_types(usage: Any, frame: str) -> None:
    fields = ("input_tokens", "output_tokens")
    require(
        isinstance(usage, Usage) and all(type(getattr(usage, f)) is int for f in fields),
        "result-types",
        expected="usage a patchwire.types.Usage with int token counts",
        observed=repr(usage),
        frame=frame,
    )


class CompleteConformance(OperationChecks):
    """Subclass with ``plugin``, ``wire`` and ``model`` set to run every check on ``complete``."""

    operation = "complete"

    async def invoke(self, hub: Hub, **options: Any) -> Any:
        options.setdefault("max_tokens", 16)
        return await hub.model(self.model_ref()).complete(PROMPT, **options)

    async def test_result_is_what_the_server_sent(self, conformance_host: PluginHost) -> None:
        finishes = []
        for max_tokens in (4, 4096):
            async with self.run(conformance_host) as run:
                result = await self.invoke(run.hub, max_tokens=max_tokens)
                sent = run.records[-1].reply
                frame = run.frame()
                require(
                    isinstance(result, Completion) and isinstance(result.text, str),
                    "result-types",
                    expected="a patchwire.types.Completion with str text",
                    observed=repr(result)[:200],
                    frame=frame,
                )
                check_usage_types(result.usage, frame)
                check_faithful(result, sent, frame)
                finishes.append((sent.truncated, result.finish_reason))
        (cut, cut_reason), (whole, whole_reason) = finishes
        require(
            cut and not whole and (cut_reason, whole_reason) == ("length", "stop"),
            "faithful-finish",
            expected="'length' for an answer cut at max_tokens, 'stop' for a complete one"
            f" (patchwire's words: {sorted(FINISH_REASONS)})",
            observed=f"cut: {cut_reason!r}, complete: {whole_reason!r}",
            frame=frame,
        )


def check_faithful(result: Any, sent: Any, frame: str) -> None:
    require(
        result.text == sent.text,
        "faithful-text",
        expected=repr(sent.text),
        observed=repr(result.text),
        frame=frame,
    )
    require(
        result.request_id == sent.request_id,
        "faithful-request-id",
        expected=repr(sent.request_id),
        observed=repr(result.request_id),
        frame=frame,
    )
    usage = result.usage
    require(
        (usage.input_tokens, usage.output_tokens) == (sent.input_tokens, sent.output_tokens),
        "faithful-usage",
        expected=f"input_tokens={sent.input_tokens}, output_tokens={sent.output_tokens}",
        observed=f"input_tokens={usage.input_tokens}, output_tokens={usage.output_tokens}",
        frame=frame,
    )
