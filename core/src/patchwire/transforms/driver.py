"""The pipeline's side of request transforms: ask the hook once per failure, and record
what ran (an event, a log line and a counter per connector and transform).

A transform runs only while the call's deadline has not passed, and its answer is tried
once: the next failure asks the hook again, with ``ran`` telling each transform what
already ran, so none repeats beyond its own bound (``tests/transforms``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from patchwire.clock import Clock
from patchwire.errors import PatchwireError
from patchwire.events import Event, EventKind
from patchwire.prices.table import snapshot_of
from patchwire.transforms.base import RequestFailure, RouteTarget, TransformConfig, Transformed
from patchwire.types import CompletionRequest

if TYPE_CHECKING:
    from patchwire.pipeline import Target

__all__ = ["Healer", "window_of"]

log = logging.getLogger("patchwire.transforms")

RequestFor = Callable[["Target"], CompletionRequest]


def _config(target: Target) -> TransformConfig:
    config = getattr(target.runtime.config, "transforms", None)
    return config if isinstance(config, TransformConfig) else TransformConfig()


def _lookup(windows: Mapping[str, int], model: str) -> int | None:
    """``model``'s window, or that of the model it is a dated snapshot of
    (claude-haiku-4-5-20251001, gpt-4o-2024-08-06), as prices are looked up."""
    found = windows.get(model)
    if found is not None:
        return found
    base = snapshot_of(model, windows)
    return None if base is None else windows[base]


def window_of(target: Target) -> int | None:
    """The context window of a target: configuration first, then what the connector states."""
    model = target.model or ""
    configured = _lookup(_config(target).context_windows, model)
    if configured is not None:
        return configured
    stated: Mapping[str, int] = getattr(target.runtime.connector, "context_windows", {})
    return _lookup(stated, model)


class Healer:
    """Calls ``patchwire_transform_request`` for a failed completion call."""

    def __init__(self, hook: Callable[..., Any], emit: Callable[[Event], None], clock: Clock):
        self._hook = hook
        self._emit = emit
        self._clock = clock
        #: transforms applied, by (connector, transform)
        self.counts: dict[tuple[str, str], int] = {}

    def __call__(
        self,
        targets: Sequence[Target],
        route: Sequence[Target],
        request_for: RequestFor,
        error: PatchwireError,
        ran: list[str],
        call_id: int,
        deadline: float | None,
        route_config: Mapping[str, Any] | None = None,
    ) -> tuple[tuple[Target, ...], RequestFor] | None:
        """The route and request to try once more, or None to let ``error`` stand.

        ``route_config`` is the route's ``on_context_overflow``/``repair_attempts``, which
        win over the failing connector's; context windows stay the connectors'.
        """
        if deadline is not None and self._clock.now() >= deadline:
            return None
        failing = next(
            (t for t in route if t.runtime.name == error.connector and t.model == error.model),
            route[-1],
        )
        request = request_for(failing)
        everyone = tuple(
            RouteTarget(t.label, t.runtime.connector, t.model or "", window_of(t)) for t in targets
        )
        here = RouteTarget(
            failing.label, failing.runtime.connector, failing.model or "", window_of(failing)
        )
        config = _config(failing)
        if route_config:
            config = attrs.evolve(config, **route_config)
        failure = RequestFailure(error, here, everyone, tuple(ran), config)
        try:
            answer = self._hook(
                connector=failing.runtime.connector, request=request, failure=failure
            )
        except Exception:
            # A transform's bug must not hide the call's own error, which stands instead.
            log.exception(
                "a request transform failed for %s; the call's error stands", failing.label
            )
            return None
        if not isinstance(answer, Transformed):
            return None
        going = failing
        if answer.target is not None:
            found = [t for t in targets if t.label == answer.target]
            if not found:
                log.warning(
                    "transform %r named %r, not a target of this call", answer.name, answer.target
                )
                return None
            going = found[0]
        ran.append(answer.name)
        key = (failing.runtime.name, answer.name)
        self.counts[key] = self.counts.get(key, 0) + 1
        self._emit(
            Event(
                EventKind.REQUEST_TRANSFORMED,
                failing.runtime.name,
                failing.model,
                time=self._clock.now(),
                call_id=call_id,
                category=error.category.value,
                target=going.label,
                message=answer.note,
                data={"transform": answer.name},
            )
        )
        log.info(
            "call %d: %s ran on %s after [%s] (%s); trying %s",
            call_id,
            answer.name,
            failing.label,
            error.category,
            answer.note or "-",
            going.label,
        )
        changed = answer.request
        return (going,), lambda _target: changed
