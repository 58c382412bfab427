"""Context windows of the models in the price table, in tokens, as Anthropic's
context-windows page states them (platform.claude.com/docs/en/build-with-claude/
context-windows): 1M for the models it lists by name, 200k for the others ("other Claude
models ... have a 200k-token context window"). Models whose window was not read (Opus
5.5, Sonnet 5.5, Haiku 5.5) are left out: trimming then goes by the window the error
states ("prompt is too long: N tokens > M maximum"), and configuration's
``context_windows`` may add them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = ["CONTEXT_WINDOWS"]

_MILLION: Final = 1_000_000
_STANDARD: Final = 200_000

CONTEXT_WINDOWS: Final[Mapping[str, int]] = {
    **dict.fromkeys(
        (
            "claude-fable-5-1",
            "claude-mythos-5-1",
            "claude-fable-5",
            "claude-mythos-5",
            "claude-opus-5",
            "claude-opus-4-8",
            "claude-opus-4-7",
            "claude-opus-4-6",
            "claude-sonnet-5",
            "claude-sonnet-4-6",
        ),
        _MILLION,
    ),
    **dict.fromkeys(
        (
            "claude-opus-4-5",
            "claude-opus-4-1",
            "claude-opus-4-0",
            "claude-opus-4",
            "claude-sonnet-4-5",
            "claude-sonnet-4-0",
            "claude-sonnet-4",
            "claude-haiku-4-5",
        ),
        _STANDARD,
    ),
}
