"""patchwire: production-grade calls to AI model providers and tools."""

from __future__ import annotations

__version__ = "0.1.0"
