"""Core's transforms, answered through the same hook as a plugin's: context overflow
(``fallback``, then ``trim``) and structured-output repair (``repair``).

Each runs at most once per call (``repair`` up to ``repair_attempts`` times), so a call
is tried at most ``1 + len(on_context_overflow) + repair_attempts`` times over.
"""

from __future__ import annotations

from collections.abc import Sequence

from patchwire.connector import Connector
from patchwire.hookspecs import hookimpl
from patchwire.output import OutputValidationError
from patchwire.transforms.base import RequestFailure, RouteTarget, Transformed
from patchwire.transforms.overflow import (
    TRIMMED_NOTE,
    is_context_overflow,
    trim_messages,
    window_from_message,
)
from patchwire.transforms.repair import repair_request
from patchwire.types import CompletionRequest, Message

__all__ = ["CoreTransforms", "fill_ratio"]

#: the share of a window trimming aims for: estimates are rough, and the reply needs room
fill_ratio = 0.85


class CoreTransforms:
    """``fallback``, ``trim`` and ``repair``, as configured per connector."""

    @hookimpl(trylast=True)
    def patchwire_transform_request(
        self, connector: Connector, request: CompletionRequest, failure: RequestFailure
    ) -> Transformed | None:
        error = failure.error
        if isinstance(error, OutputValidationError):
            if failure.ran.count("repair") >= failure.config.repair_attempts:
                return None
            return Transformed(
                "repair", repair_request(request, error), note=error.validation_message[:200]
            )
        if not is_context_overflow(error):
            return None
        for step in failure.config.on_context_overflow:
            if step in failure.ran:
                continue
            answer = (
                _fallback(connector, request, failure)
                if step == "fallback"
                else _trim(connector, request, failure)
            )
            if answer is not None:
                return answer
        return None


def _window(target: RouteTarget, failure: RequestFailure) -> int | None:
    # For the target that overflowed, the window its error states wins over a table's: it
    # is what this deployment enforced (a smaller tier, a proxy's limit).
    if target.label == failure.target.label:
        return window_from_message(failure.error) or target.window
    return target.window


def _fallback(
    connector: Connector, request: CompletionRequest, failure: RequestFailure
) -> Transformed | None:
    """The first route target with a larger window than the one that overflowed."""
    have = _window(failure.target, failure) or 0
    for target in failure.route:
        if target.label == failure.target.label or target.window is None:
            continue
        if target.window > have:
            moved = CompletionRequest(
                target.model,
                request.messages,
                request.params,
                request.idempotency_key,
                request.features,
            )
            return Transformed(
                "fallback",
                moved,
                target.label,
                f"{failure.target.label} ({have or '?'} tokens) -> {target.label}"
                f" ({target.window} tokens)",
            )
    return None


def _trim(
    connector: Connector, request: CompletionRequest, failure: RequestFailure
) -> Transformed | None:
    window = _window(failure.target, failure)
    if window is None:
        return None
    budget = int(window * fill_ratio)

    def estimate(messages: Sequence[Message]) -> int:
        candidate = CompletionRequest(
            request.model,
            tuple(messages),
            request.params,
            request.idempotency_key,
            request.features,
        )
        return connector.estimate_tokens(candidate)

    # A connector's estimate may add the reply's budget (max_tokens) and the tools; the
    # window is measured against the conversation, so that overhead is taken off.
    overhead = estimate((Message("user", ""),))

    def fits(messages: Sequence[Message]) -> bool:
        return estimate(messages) - overhead <= budget

    trimmed = trim_messages(request.messages, fits)
    if trimmed is None:
        return None
    dropped = len(request.messages) - sum(1 for m in trimmed if m.content != TRIMMED_NOTE)
    changed = CompletionRequest(
        request.model, trimmed, request.params, request.idempotency_key, request.features
    )
    return Transformed(
        "trim", changed, None, f"{dropped} message(s) dropped to fit {window} tokens"
    )
