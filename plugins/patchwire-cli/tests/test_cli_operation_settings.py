"""Per-command ``timeout`` and ``ttl`` (issue 14, item 9), falling back to the connector's.

The timeout test runs real programs on real time (integration); the ttl test runs a real
program on a clock that only moves when the test advances it, so expiry is exact.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from patchwire.clock import VirtualClock
from patchwire.errors import DegradedError
from patchwire.hub import Hub
from patchwire.plugins import PluginHost

pytestmark = pytest.mark.integration

PYTHON = [sys.executable, "-S", "-c"]
HubFactory = Callable[..., Hub]
SLEEP = "import sys, time; time.sleep(float(sys.argv[1])); print('done')"
COUNT = "import sys; f = open(sys.argv[1], 'a'); f.write('x'); f.close(); print(sys.argv[2])"


async def test_a_command_timeout_replaces_the_connectors_for_that_command_only(
    make_hub: HubFactory,
) -> None:
    hub = make_hub(
        {
            "quick": {"argv": [*PYTHON, SLEEP, "{seconds}"], "timeout": 0.3},
            "patient": {"argv": [*PYTHON, SLEEP, "{seconds}"]},
        },
        timeout=5,
    )
    async with hub:
        tool = hub.tool("tool")
        started = time.monotonic()
        with pytest.raises(DegradedError, match=r"attempt timed out after 0\.3 s"):
            await tool.call("quick", seconds=60)
        # 0.3 s, the kill grace, process start-up: far below the program's 60 s, and loose
        # enough that a loaded machine cannot fail it.
        assert time.monotonic() - started < 20
        # The other command keeps the connector's 5 s.
        assert (await tool.call("patient", seconds=0.6)).output == "done\n"
        row = hub.metrics().for_model("tool", None)
    assert row.timeouts == 1


async def test_a_command_ttl_bounds_how_long_its_cached_answer_is_served(
    cli_host: PluginHost, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    clock = VirtualClock(autojump=False)
    connector = {
        "type": "cli",
        "timeout": 30,
        "retry": {"max_attempts": 1},
        "cache": {"ttl": 3600},
        "commands": {
            "stable": {"argv": [*PYTHON, COUNT, str(runs), "{v}"], "cache": True, "ttl": 100},
            "default": {"argv": [*PYTHON, COUNT, str(runs), "{v}"], "cache": True},
            "never": {"argv": [*PYTHON, COUNT, str(runs), "{v}"], "cache": True, "ttl": 0},
        },
    }
    hub = Hub.from_dict({"connectors": {"tool": connector}}, host=cli_host, clock=clock)

    def count() -> int:
        return len(runs.read_text()) if runs.exists() else 0

    async with hub:
        tool = hub.tool("tool")
        for name in ("stable", "default", "never"):
            await tool.call(name, v=name)
        assert count() == 3
        clock.advance(99)
        assert (await tool.call("stable", v="stable")).cached
        assert (await tool.call("default", v="default")).cached
        assert not (await tool.call("never", v="never")).cached
        assert count() == 4
        clock.advance(2)  # past the command's 100 s, well within the connector's 3600 s
        assert not (await tool.call("stable", v="stable")).cached
        assert (await tool.call("default", v="default")).cached
    assert count() == 5
