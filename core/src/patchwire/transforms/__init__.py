"""Request transforms: a failed completion request, changed and tried once more.

``base`` holds what a transform sees and returns, ``overflow`` and ``repair`` core's two
transforms' logic, ``core`` their hookimpl, ``driver`` the pipeline's side.
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
