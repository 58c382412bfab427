"""What the simulator answers: deterministic text, token counts and vectors.

Every wire format uses the same content so that a workload gives the same replies
whatever provider it is pointed at: the reply is a sentence chosen by a hash of the
prompt plus the prompt's first words, tokens are counted at about four characters each,
and an embedding is a unit vector seeded by a hash of the model and the text.
"""

from __future__ import annotations

import hashlib
import math
import random

__all__ = ["count_tokens", "embedding_vector", "reply_text", "stream_pieces"]

_SENTENCES = (
    "This is a simulated answer.",
    "The simulator read your prompt carefully.",
    "Here is a deterministic reply from the patchwire simulator.",
    "A real model would say something cleverer here.",
    "Simulated models answer quickly and never get tired.",
    "Your request reached the simulator intact.",
)
_ECHO_WORDS = 8


def count_tokens(text: str) -> int:
    """About four characters a token, at least one for any non-empty text."""
    if not text:
        return 0
    return max(1, (len(text) + 3) // 4)


def _digest(*parts: str) -> bytes:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.digest()


def reply_text(prompt: str, max_tokens: int | None = None) -> tuple[str, bool]:
    """The reply to ``prompt`` and whether ``max_tokens`` cut it short.

    Cutting keeps whole words while the count stays within ``max_tokens``, and at least
    one word, as a model always says something before it hits its limit.
    """
    sentence = _SENTENCES[_digest(prompt)[0] % len(_SENTENCES)]
    echoed = " ".join(prompt.split()[:_ECHO_WORDS])
    full = f"{sentence} You said: {echoed}" if echoed else sentence
    if max_tokens is None or count_tokens(full) <= max_tokens:
        return full, False
    words = full.split(" ")
    kept = words[0]
    for word in words[1:]:
        candidate = f"{kept} {word}"
        if count_tokens(candidate) > max_tokens:
            break
        kept = candidate
    return kept, True


def stream_pieces(text: str) -> tuple[str, ...]:
    """The deltas a stream sends: one word each, the separating space leading, joined they give ``text``."""
    words = text.split(" ")
    return (words[0], *(f" {w}" for w in words[1:])) if text else ()


def embedding_vector(text: str, model: str, dimensions: int) -> tuple[float, ...]:
    """A unit vector that depends only on the model, the text and the dimension."""
    rng = random.Random(int.from_bytes(_digest(model, text)[:8], "big"))
    raw = [rng.gauss(0.0, 1.0) for _ in range(dimensions)]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return tuple(x / norm for x in raw)
