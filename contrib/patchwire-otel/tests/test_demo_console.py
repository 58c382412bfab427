"""``patchwire demo --otel console`` prints the demo's spans and GenAI metrics to stderr,
leaving stdout (the table and the ledger) as it was (issue 17: "The demo can run with
OTel on").

Integration: the real command in a child interpreter (the console exporters become that
process's global providers), against the demo's loopback simulators.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration


def test_demo_with_otel_console_prints_spans_and_metrics_and_loses_no_call() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "patchwire", "demo", "--requests", "12", "--tool-runs", "0",
         "--seed", "5", "--json", "--otel", "console"],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)  # stdout is still the demo's JSON alone
    assert result["ledger"]["lost"] == 0
    # Spans are printed as JSON objects one after another; find the call spans by name.
    decoder = json.JSONDecoder()
    text, index, spans = done.stderr, 0, []
    while (start := text.find("{", index)) != -1:
        try:
            value, index = decoder.raw_decode(text, start)
        except ValueError:
            index = start + 1
            continue
        if isinstance(value, dict) and "context" in value and "name" in value:
            spans.append(value)
    calls = [s for s in spans if s["name"].startswith(("chat ", "embeddings "))]
    assert len(calls) >= 12  # every call (a retried one has attempt children besides)
    chat = next(s for s in calls if s["name"].startswith("chat "))
    assert chat["attributes"]["gen_ai.provider.name"] in {"openai", "anthropic"}
    assert "gen_ai.response.model" in chat["attributes"]
    assert any(s["name"].startswith("attempt ") for s in spans)
    assert "gen_ai.client.operation.duration" in done.stderr
