"""What the simulator answers to rich requests: tool calls, structured answers, reasoning.

Shared by every wire format, so one workload gets the same decisions whatever provider it
is pointed at; each wire only spells them.

- **Tool calls.** With tools offered, ``tool_choice`` not ``"none"`` and no tool result
  in the last message, the model calls tools: the named one for a named choice;
  otherwise the first tool, or the first two when parallel calls are allowed and two or
  more tools are offered. Arguments are drawn from each tool's schema
  (:func:`patchwire.testing.sim_schema.instance_for`), seeded by the prompt, so they
  validate and repeat. A :data:`ToolScript` given to the ``Simulator`` decides instead:
  it returns the calls (tool name and arguments) or None to keep the default.
- **Structured answers.** With an output schema the answer is a JSON instance of it,
  drawn the same way.
- **Reasoning.** With reasoning asked for, a short reasoning text and a token count set
  by the effort (``low`` 32, ``medium`` 128, ``high`` 512, or the budget up to 1024), and
  a signature the wire can hand out and check when it comes back (:func:`sign`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from patchwire.testing.sim_content import count_tokens
from patchwire.testing.sim_schema import instance_for
from patchwire.testing.sim_wire import SimRequest, SimToolCall

__all__ = [
    "ToolScript",
    "answer_json",
    "plan_tool_calls",
    "reasoning_for",
    "sign",
    "verify",
]

#: decides a request's tool calls: (tool name, arguments) pairs, or None for the default
ToolScript = Callable[[SimRequest], Sequence[tuple[str, Mapping[str, Any]]] | None]

_EFFORT_TOKENS = {"low": 32, "medium": 128, "high": 512}
_MAX_BUDGET_TOKENS = 1024
# Not a secret worth keeping: it only lets the simulator tell its own signatures apart.
_SIGNING_KEY = b"patchwire-simulator"


def _rng(*parts: str) -> random.Random:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass") + b"\x00")
    return random.Random(int.from_bytes(h.digest()[:8], "big"))


def _call_id(sim: SimRequest, name: str, index: int) -> str:
    material = f"{sim.model}\x00{sim.prompt}\x00{name}\x00{index}".encode("utf-8", "surrogatepass")
    return hashlib.sha256(material).hexdigest()[:24]


def plan_tool_calls(sim: SimRequest, script: ToolScript | None = None) -> tuple[SimToolCall, ...]:
    """The calls the model makes for ``sim`` (empty: it answers in text)."""
    if not sim.tools or sim.tool_choice == "none":
        return ()
    named = sim.tool_choice not in (None, "auto", "required")
    multi_step = getattr(script, "multi_step", False)  # sim_steps.StepScript: every turn
    if sim.after_tool_result and not named and sim.tool_choice != "required" and not multi_step:
        return ()
    scripted = script(sim) if script is not None else None
    if scripted is not None:
        return tuple(
            SimToolCall(_call_id(sim, name, i), name, json.dumps(dict(args), separators=(",", ":")))
            for i, (name, args) in enumerate(scripted)
        )
    if named:
        chosen = [t for t in sim.tools if t.name == sim.tool_choice][:1]
    else:
        count = 2 if sim.parallel_tool_calls and len(sim.tools) >= 2 else 1
        chosen = list(sim.tools[:count])
    rng = _rng(sim.model, sim.prompt, "tools")
    return tuple(
        SimToolCall(
            _call_id(sim, tool.name, i),
            tool.name,
            json.dumps(instance_for(dict(tool.schema), rng), separators=(",", ":")),
        )
        for i, tool in enumerate(chosen)
    )


def answer_json(schema: Mapping[str, Any], prompt: str, model: str = "") -> str:
    """A JSON text valid against ``schema``, the same for the same prompt."""
    value = instance_for(dict(schema), _rng(model, prompt, "output"))
    return json.dumps(value, separators=(",", ":"))


def reasoning_for(prompt: str, reasoning: str | int | None) -> tuple[str, int]:
    """(reasoning text, reasoning tokens) for a request; ("", 0) when none was asked for."""
    if reasoning is None or reasoning == 0:
        return "", 0
    tokens = (
        _EFFORT_TOKENS.get(reasoning, 128)
        if isinstance(reasoning, str)
        else min(int(reasoning), _MAX_BUDGET_TOKENS)
    )
    words = " ".join(prompt.split()[:6])
    text = f"The user asks: {words}. I will answer step by step."
    return text, max(tokens, count_tokens(text))


def sign(text: str) -> str:
    """An opaque signature for reasoning ``text`` that :func:`verify` accepts."""
    return hmac.new(_SIGNING_KEY, text.encode("utf-8", "surrogatepass"), "sha256").hexdigest()


def verify(text: str, signature: str) -> bool:
    """Whether ``signature`` is what the simulator handed out for ``text`` (unmodified)."""
    return hmac.compare_digest(sign(text), signature)
