"""Every way a CLI call can fail leaves the caller's task as it found it (issue 13, item 5).

On Python 3.11 an ``asyncio.TaskGroup`` whose child fails after the body has finished (the
output reader passing ``max_output``) cancels the parent task and never takes that back, so
the caller's task kept a pending cancel request and its next deadline raised a raw
``CancelledError`` instead of ``DegradedError``. Each failure mode below is followed by a
call that times out, which must still be ``degraded``.

Integration: real programs on real time (a timeout is a real process being stopped).
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from patchwire.errors import Category, PatchwireError
from patchwire.hub import Hub
from patchwire.plugins import PluginHost

pytestmark = pytest.mark.integration

PYTHON = [sys.executable, "-S", "-c"]
FLOOD = "import sys\nwhile True: sys.stdout.write('x' * 65536)"
HANG = "import time; time.sleep(60)"

# command name -> (its table, the call's arguments, the category it ends in; None: success)
MODES: dict[str, tuple[dict[str, Any], dict[str, Any], Category | None]] = {
    "flood": ({"argv": [*PYTHON, FLOOD], "max_output": 4096}, {}, Category.INTEGRATION),
    "usage": ({"argv": [*PYTHON, "raise SystemExit(64)"]}, {}, Category.INVALID_REQUEST),
    "unavailable": ({"argv": [*PYTHON, "raise SystemExit(69)"]}, {}, Category.DEGRADED),
    "tempfail": ({"argv": [*PYTHON, "raise SystemExit(75)"]}, {}, Category.TRANSIENT),
    "noperm": ({"argv": [*PYTHON, "raise SystemExit(77)"]}, {}, Category.AUTH),
    "crash": ({"argv": [*PYTHON, "import os; os.abort()"]}, {}, Category.INTEGRATION),
    "badjson": (
        {"argv": [*PYTHON, "print('[not json')"], "output": "json"},
        {},
        Category.INTEGRATION,
    ),
    "option": ({"argv": [*PYTHON, "pass", "{x}"]}, {"x": "--evil"}, Category.INVALID_REQUEST),
    "missing": ({"argv": [*PYTHON, "pass", "{x}"]}, {}, Category.INVALID_REQUEST),
    "hang": ({"argv": [*PYTHON, HANG], "timeout": 0.3}, {}, Category.DEGRADED),
    # The whole call's deadline (timeout=) rather than the attempt's.
    "deadline": ({"argv": [*PYTHON, HANG]}, {"timeout": 0.3}, Category.DEGRADED),
    "ok": ({"argv": [*PYTHON, "print('fine')"]}, {}, None),
}


def _hub(host: PluginHost) -> Hub:
    from patchwire_cli.plugin import plugin

    if not host.pm.has_plugin("cli"):
        host.register(plugin, "cli")
    commands = {name: table for name, (table, _, _) in MODES.items()}
    connector = {
        "type": "cli",
        "timeout": 30,  # the other modes end on their own; only "hang" times out
        "retry": {"max_attempts": 1},
        "kill_grace": 0.1,
        "commands": commands,
    }
    return Hub.from_dict({"connectors": {"tool": connector}}, host=host)


async def _fails_as(hub: Hub, mode: str) -> None:
    """Run ``mode``: it ends in its category, and the caller's cancel count is unchanged."""
    _, arguments, category = MODES[mode]
    task = asyncio.current_task()
    assert task is not None
    before = task.cancelling()
    if category is None:
        await hub.tool("tool").call(mode, **arguments)
    else:
        with pytest.raises(PatchwireError) as info:
            await hub.tool("tool").call(mode, **arguments)
        assert info.value.category is category, info.value.message
    assert task.cancelling() == before


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    derandomize=True,
)
@given(st.lists(st.sampled_from(sorted(MODES)), min_size=1, max_size=4))
async def test_after_any_failure_the_next_timeout_is_still_degraded(
    plugin_host: PluginHost, modes: list[str]
) -> None:
    """Invariant: after any sequence of CLI calls, whatever each ended in, the caller's task
    has the cancel count it had before, so a following call that times out ends as
    ``degraded``."""
    hub = _hub(plugin_host)
    async with hub:
        for mode in modes:
            await _fails_as(hub, mode)
        await _fails_as(hub, "hang")


@pytest.mark.parametrize("mode", sorted(MODES))
async def test_each_failure_mode_then_a_timeout(plugin_host: PluginHost, mode: str) -> None:
    hub = _hub(plugin_host)
    async with hub:
        await _fails_as(hub, mode)
        await _fails_as(hub, "hang")
