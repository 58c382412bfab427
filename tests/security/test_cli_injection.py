"""Attack: option injection through placeholders that share an argv item (issue 13, item 5).

A value filling a whole argv item was already refused when it started with ``-``, but a
value sharing its item with literal text or with another placeholder slipped through:
``"{x}.txt"`` with ``x = "--output=pwned"`` and ``"{a}{b}"`` with ``a = "-"``,
``b = "-output=..."`` both reached the program as options. The rule is now checked on the
item as assembled. The program here is a real python process that would record any argv
it received (integration: real subprocesses), so "refused" also means "never ran".
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.errors import InvalidRequestError
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire_cli.argv import ArgvTemplate
from patchwire_cli.plugin import plugin

RECORD_ARGV = "import sys; open(sys.argv[1], 'w').write(repr(sys.argv[2:]))"


def _hub(host: PluginHost, item: str, marker: Path) -> Hub:
    host.register(plugin, "cli")
    argv = [sys.executable, "-S", "-c", RECORD_ARGV, str(marker), item]
    connector: dict[str, Any] = {
        "type": "cli",
        "timeout": 5,
        "retry": {"max_attempts": 1},
        "commands": {"convert": {"argv": argv}},
    }
    return Hub.from_dict({"connectors": {"tool": connector}}, host=host)


@pytest.mark.integration
@pytest.mark.parametrize(
    ("item", "arguments", "leader"),
    [
        ("{x}.txt", {"x": "--output=pwned"}, "x"),
        ("{a}{b}", {"a": "-", "b": "-output=pwned"}, "a"),
        ("{a}{b}", {"a": "", "b": "--output=pwned"}, "b"),
        ("{x}", {"x": "--output=pwned"}, "x"),
    ],
)
async def test_an_assembled_item_starting_with_dash_is_refused_and_nothing_runs(
    plugin_host: PluginHost, tmp_path: Path, item: str, arguments: dict[str, str], leader: str
) -> None:
    marker = tmp_path / "ran"
    hub = _hub(plugin_host, item, marker)
    async with hub:
        with pytest.raises(InvalidRequestError) as info:
            await hub.tool("tool").call("convert", **arguments)
    message = info.value.message
    assert "command 'convert'" in message
    assert repr(item) in message
    assert f"argument '{leader}'" in message
    assert info.value.attempts == 0
    assert not marker.exists()


@pytest.mark.integration
async def test_a_template_that_starts_with_a_literal_dash_still_takes_any_value(
    plugin_host: PluginHost, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    hub = _hub(plugin_host, "--input={x}", marker)
    async with hub:
        await hub.tool("tool").call("convert", x="-weird")
    assert marker.read_text() == repr(["--input=-weird"])


_PIECES = st.sampled_from(["", "-", "--", "-o", "x", ".txt", "=", "a-b"])


@st.composite
def _items(draw: st.DrawFn) -> tuple[str, list[str | None]]:
    """One argv item template and its shape: literal pieces, or None for a placeholder."""
    shape: list[str | None] = []
    for _ in range(draw(st.integers(1, 4))):
        shape.append(None if draw(st.booleans()) else draw(_PIECES.filter(bool)))
    text = "".join("{p" + str(i) + "}" if piece is None else piece for i, piece in enumerate(shape))
    return text, shape


@settings(max_examples=300, deadline=None)
@given(_items(), st.lists(_PIECES | st.text(max_size=8), min_size=4, max_size=4))
def test_no_item_starts_with_dash_unless_its_template_does(
    template: tuple[str, list[str | None]], pieces: list[str]
) -> None:
    """Invariant: an argv item rendered before '--' (options not allowed) starts with '-'
    only when its template starts with a literal '-'; otherwise rendering is refused."""
    text, shape = template
    values = {f"p{i}": pieces[i] for i, piece in enumerate(shape) if piece is None}
    argv = ArgvTemplate.parse(["prog", text])
    try:
        out = argv.render(values, command="c")
    except InvalidRequestError:
        assert not text.startswith("-")
        return
    assert not out[1].startswith("-") or text.startswith("-")
