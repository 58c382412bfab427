"""Context windows (input and output tokens together) of the models in the price table,
as OpenAI's model pages state them (platform.openai.com/docs/models, read with the
prices); request transforms (``patchwire.transforms``) fall back to a larger window and
trim to fit by them. Configuration's ``context_windows`` adds models or overrides these;
a model missing here has no stated window (trimming then goes by the window the error
states). Embedding models are left out: they take no conversation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = ["CONTEXT_WINDOWS"]

_GPT_41: Final = 1_047_576
_GPT_5: Final = 400_000

CONTEXT_WINDOWS: Final[Mapping[str, int]] = {
    "gpt-5": _GPT_5,
    "gpt-5-mini": _GPT_5,
    "gpt-5-nano": _GPT_5,
    "gpt-4.1": _GPT_41,
    "gpt-4.1-mini": _GPT_41,
    "gpt-4.1-nano": _GPT_41,
    "gpt-4o": 128_000,
    "gpt-4o-mini": 128_000,
    "o3": 200_000,
    "o3-mini": 200_000,
    "o4-mini": 200_000,
    "o1": 200_000,
    "gpt-4-turbo": 128_000,
    "gpt-3.5-turbo": 16_385,
}
