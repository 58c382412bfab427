"""The tool-loop part of ``patchwire demo``: every run ends in an answer or a classified
error, tool calls per run and transform counts are reported, and the step log is shown.

Integration: a loopback site, real subprocesses (a python program, mcp-server-time when
installed) and the OpenAI simulator with faults, on real time.
"""

from __future__ import annotations

import pytest
from patchwire.plugins import default_host
from patchwire.run_demo import run_tool_demo

pytestmark = pytest.mark.integration


async def test_the_tool_demo_ledger_balances_and_shows_runs_and_transforms(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PW_DEMO_TEST_KEY", "sk-demo-test")
    result = await run_tool_demo(host=default_host(), seed=3, key_env="PW_DEMO_TEST_KEY", runs=3)
    ledger = result["ledger"]
    assert ledger["submitted"] == 6 and ledger["lost"] == 0  # three runs, three calls
    assert ledger["answered"] + ledger["failed"] == ledger["submitted"]
    assert result["tool_calls_per_run"] and all(n >= 3 for n in result["tool_calls_per_run"])
    assert set(result["transforms"]) == {"llm:fallback", "llm:trim", "llm:repair"}
    # the long history met the tiny model's window by trimming, on its only target
    assert "trim: answered by gpt-4o-mini-tiny after trim" in result["summary"]
    assert "step 1: llm:gpt-4o-mini tool_calls" in result["summary"]
    for connector in ("web", "cli", "llm:gpt-4o-mini"):
        assert connector in result["table"]
