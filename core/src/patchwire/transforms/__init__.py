"""Request transforms: a failed completion request, changed and tried once more.

``base`` holds what a transform sees and returns, ``overflow`` and ``repair`` core's two
transforms' logic, ``core`` their hookimpl, ``driver`` the pipeline's side.

``complete()`` is healed on any failure of the route; ``stream()`` only before its first
chunk (a context overflow is refused before any text), and the first chunk's
``transforms`` names what ran. A streamed structured answer is not repaired: it is parsed
when the stream ends, after its text reached the caller, so a failed parse ends the stream
with ``OutputValidationError`` (use ``complete(output=...)`` to have it repaired).
"""

from patchwire.transforms.base import (
    OVERFLOW_STEPS,
    RequestFailure,
    RouteTarget,
    TransformConfig,
    Transformed,
    parse_transform_config,
)
from patchwire.transforms.overflow import is_context_overflow, trim_messages

__all__ = [
    "OVERFLOW_STEPS",
    "RequestFailure",
    "RouteTarget",
    "TransformConfig",
    "Transformed",
    "is_context_overflow",
    "parse_transform_config",
    "trim_messages",
]
