"""What a request transform sees and returns, and how it is configured.

A transform changes a failed completion request so it can be tried once more within the
same deadline: :func:`patchwire.hookspecs.patchwire_transform_request` receives the
connector that failed, the request it was sent and a :class:`RequestFailure`, and may
return a :class:`Transformed`. Core's own transforms (``patchwire.transforms.core``)
answer context overflow (``on_context_overflow``) and output that breaks its schema
(``repair_attempts``); a plugin's hookimpl answers first when it returns something.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import attrs

from patchwire.config_values import Where, read, shown
from patchwire.errors import PatchwireError
from patchwire.types import CompletionRequest

if TYPE_CHECKING:
    from patchwire.connector import Connector

__all__ = [
    "OVERFLOW_STEPS",
    "ROUTE_TRANSFORM_KEYS",
    "TRANSFORM_KEYS",
    "RequestFailure",
    "RouteTarget",
    "TransformConfig",
    "Transformed",
    "parse_transform_config",
    "route_transforms",
]

#: the steps ``on_context_overflow`` may list, tried in the order given
OVERFLOW_STEPS: Final = ("fallback", "trim")
#: the keys a connector table (and a route table) may hold for transforms
TRANSFORM_KEYS: Final = ("on_context_overflow", "repair_attempts", "context_windows")
#: the keys a route table may hold (context windows belong to the connectors' models)
ROUTE_TRANSFORM_KEYS: Final = ("on_context_overflow", "repair_attempts")
_MAX_REPAIRS: Final = 5
_MAX_WINDOW: Final = 100_000_000


def _windows(value: Mapping[str, int]) -> Mapping[str, int]:
    return dict(value)


@attrs.frozen
class TransformConfig:
    """``on_context_overflow``: the steps tried when a request exceeds the model's context
    window ([] turns it off); ``repair_attempts``: how many times a reply that breaks its
    ``output`` schema is sent back with the validation error (0 turns it off);
    ``context_windows``: tokens per model, added to (or overriding) what the connector
    states."""

    on_context_overflow: tuple[str, ...] = OVERFLOW_STEPS
    repair_attempts: int = 1
    context_windows: Mapping[str, int] = attrs.field(factory=dict, converter=_windows)


def parse_transform_config(
    raw: Mapping[str, Any], where: Where, base: TransformConfig | None = None
) -> TransformConfig:
    """The transform keys of one table (other keys are the caller's to check)."""
    base = base or TransformConfig()
    steps = raw.get("on_context_overflow", list(base.on_context_overflow))
    if not isinstance(steps, list) or not all(isinstance(s, str) for s in steps):
        raise where.error(
            "on_context_overflow", f"expected a list of steps from {list(OVERFLOW_STEPS)}"
        )
    unknown = [s for s in steps if s not in OVERFLOW_STEPS]
    if unknown or len(set(steps)) != len(steps):
        raise where.error(
            "on_context_overflow",
            f"steps must be distinct and among {list(OVERFLOW_STEPS)};"
            f" got {len(unknown)} unknown or repeated",
        )
    repairs = read(
        raw, "repair_attempts", (int,), base.repair_attempts, where, minimum=0, maximum=_MAX_REPAIRS
    )
    windows = dict(base.context_windows)
    table = raw.get("context_windows", {})
    if not isinstance(table, Mapping):
        raise where.error(
            "context_windows", f"expected a table of model = tokens, got {shown(table)}"
        )
    for model in table:
        windows[str(model)] = read(
            table,
            model,
            (int,),
            None,
            where.child("context_windows"),
            minimum=1,
            maximum=_MAX_WINDOW,
        )
    return TransformConfig(tuple(steps), int(repairs), windows)


def route_transforms(raw: Mapping[str, Any], where: Where) -> dict[str, Any]:
    """The transform keys a route table sets, checked, as overrides of a connector's."""
    parsed = parse_transform_config(raw, where)
    return {key: getattr(parsed, key) for key in ROUTE_TRANSFORM_KEYS if key in raw}


@attrs.frozen
class RouteTarget:
    """One target of the failed call's route: its label (``connector:model``), connector,
    model and context window in tokens (None: not stated)."""

    label: str
    connector: Connector = attrs.field(eq=False, repr=False)
    model: str
    window: int | None = None


@attrs.frozen
class RequestFailure:
    """A completion call's failure, as a transform sees it.

    ``error`` is the classified error; ``target`` the route target it came from and
    ``route`` every target of the call, in order; ``ran`` the transforms already applied
    to this call (each transform decides whether it may run again); ``config`` the
    failing connector's transform settings.
    """

    error: PatchwireError
    target: RouteTarget
    route: tuple[RouteTarget, ...]
    ran: tuple[str, ...] = ()
    config: TransformConfig = TransformConfig()


@attrs.frozen
class Transformed:
    """A transform's answer: the request to try once more, and where.

    ``name`` says which transform ran (``fallback``, ``trim``, ``repair`` or a plugin's
    own); ``target`` is the label of the route target to send it to (None: the target
    that failed); ``note`` a short human description for the log line.
    """

    name: str
    request: CompletionRequest
    target: str | None = None
    note: str = ""
