"""Structured-output repair: a reply that breaks its ``output`` schema goes back to the
model once with the validation error, and the model answers again.

The repaired request is the conversation, the model's invalid reply as an assistant
message and a user message saying what was wrong; ``repair_attempts`` (default 1) bounds
how many times a call does this before it fails as ``integration``.
"""

from __future__ import annotations

import attrs

from patchwire.output import OutputValidationError
from patchwire.types import CompletionRequest, Message

__all__ = ["repair_request"]

_RAW_LIMIT = 20_000


def repair_request(request: CompletionRequest, error: OutputValidationError) -> CompletionRequest:
    """``request`` with the invalid reply and the validation message appended."""
    feedback = (
        "Your previous reply did not match the required JSON schema: "
        f"{error.validation_message}. Reply again with only a JSON value that matches the"
        " schema, and nothing else."
    )
    messages = (
        *request.messages,
        Message("assistant", error.raw_text[:_RAW_LIMIT] or "(empty reply)"),
        Message("user", feedback),
    )
    return attrs.evolve(request, messages=messages)
