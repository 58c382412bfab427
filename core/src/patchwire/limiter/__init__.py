"""Rate limiting: multi-window token buckets, concurrency slots, a priority queue with
aging, adaptation to provider signals, and a pluggable store for the bucket levels."""

from __future__ import annotations

from patchwire.limiter.adaptive import AdaptivePolicy, RateLimitInfo
from patchwire.limiter.backend import LimiterBackend, MemoryBackend
from patchwire.limiter.bucket import AcquireResult, BucketSpec
from patchwire.limiter.limiter import Limiter, Permit
from patchwire.limiter.limits import Kind, LimitsConfig, Window
from patchwire.limiter.refused import LimiterRefused
from patchwire.limiter.snapshot import LimiterSnapshot, WindowState

__all__ = [
    "AcquireResult",
    "AdaptivePolicy",
    "BucketSpec",
    "Kind",
    "Limiter",
    "LimiterBackend",
    "LimiterRefused",
    "LimiterSnapshot",
    "LimitsConfig",
    "MemoryBackend",
    "Permit",
    "RateLimitInfo",
    "Window",
    "WindowState",
]
