"""Context windows of the models in the price table: each model page's "input token
limit" (ai.google.dev/gemini-api/docs/models/MODEL), the count Gemini's "The input token
count (N) exceeds the maximum number of tokens allowed (M)" refers to. Request transforms
(``patchwire.transforms``) fall back and trim by them; configuration's ``context_windows``
adds models or overrides these. The embedding model is left out: it takes no conversation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = ["CONTEXT_WINDOWS"]

_INPUT_LIMIT: Final = 1_048_576

CONTEXT_WINDOWS: Final[Mapping[str, int]] = dict.fromkeys(
    (
        "gemini-3-pro-preview",
        "gemini-3-flash-preview",
        "gemini-2.5-pro",
        "gemini-2.5-flash",
        "gemini-2.5-flash-lite",
        "gemini-2.0-flash",
        "gemini-2.0-flash-lite",
    ),
    _INPUT_LIMIT,
)
