"""Per-tool timeouts and ttls (``[connectors.NAME.tools.TOOL]``), falling back to the
connector's, and per-operation timeout counts in the metrics (issue 14 item 9).

Integration tests: a real stdio toolbox server, so the real clock (a virtual one would jump
past the server's answers); timeouts are a few tenths of a second.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from patchwire.errors import ConfigError, DegradedError
from patchwire.hub import Hub
from patchwire.types import ToolRequest


@pytest.mark.integration
async def test_a_tool_has_its_own_timeout_and_the_others_keep_the_connectors(
    make_hub: Callable[..., Hub], toolbox_table: Callable[..., dict[str, Any]]
) -> None:
    table = toolbox_table(
        timeout=0.3,
        retry={"max_attempts": 2, "initial": 0.01},
        tools={"slow": {"timeout": 5}},
    )
    quick = toolbox_table(
        timeout=5, retry={"max_attempts": 1}, tools={"slow": {"timeout": 0.3}, "echo": {}}
    )
    hub = make_hub({"patient": table, "strict": quick})
    done = await hub.tool("patient").call("slow", seconds=1.0)
    assert done.text == "done" and done.attempts == 1
    with pytest.raises(DegradedError, match=r"timed out after 0\.3 s"):
        await hub.tool("strict").call("slow", seconds=2.0)
    assert (await hub.tool("strict").call("echo", text="hi")).attempts == 1
    row = hub.metrics().for_model("strict", None)
    assert row.timeouts == 1 and dict(row.timeouts_by_operation) == {"tool:slow": 1}
    assert hub.metrics().for_model("patient", None).timeouts == 0


async def test_a_tool_ttl_outlives_the_connectors(
    make_hub: Callable[..., Hub], toolbox_table: Callable[..., dict[str, Any]]
) -> None:
    hub = make_hub({"tb": toolbox_table(cache={"ttl": 60}, tools={"echo": {"ttl": 0}})})
    connector = hub.runtime("tb").connector
    assert connector.ttl_for(ToolRequest("echo")) == 0.0
    assert connector.ttl_for(ToolRequest("add")) is None
    assert connector.timeout_for(ToolRequest("echo")) is None


@pytest.mark.parametrize(
    ("tools", "key", "says"),
    [
        ({"slow": {"timeout": 0}}, "tools.slow.timeout", "expected seconds > 0"),
        ({"slow": {"timeout": True}}, "tools.slow.timeout", "expected seconds > 0"),
        ({"slow": {"ttl": -1}}, "tools.slow.ttl", "expected seconds >= 0"),
        ({"slow": {"timout": 3}}, "tools.slow.timout", "unknown key"),
        ({"slow": 3}, "tools.slow", "expected a table"),
    ],
)
def test_bad_tool_settings_are_config_errors_naming_the_key(
    make_hub: Callable[..., Hub],
    toolbox_table: Callable[..., dict[str, Any]],
    tools: dict[str, Any],
    key: str,
    says: str,
) -> None:
    with pytest.raises(ConfigError) as caught:
        make_hub({"tb": toolbox_table(tools=tools)})
    assert key in str(caught.value) and says in str(caught.value)
