"""Meta-tests of the plugin contract: every hookspec is documented with its exact signature
in CONTRIBUTING.md, and exercised by a ``test_hook_<name>`` test."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from patchwire import hookspecs

ROOT = Path(__file__).parent.parent.parent
SPECS = sorted(
    (name, fn)
    for name, fn in vars(hookspecs).items()
    if name.startswith("patchwire_") and callable(fn)
)


def signature(fn: object) -> str:
    params = inspect.signature(fn).parameters  # type: ignore[arg-type]
    return f"{fn.__name__}({', '.join(params)})"  # type: ignore[attr-defined]


def test_every_hook_is_a_marked_hookspec() -> None:
    assert len(SPECS) == 13
    for name, fn in SPECS:
        assert hasattr(fn, "patchwire_spec"), f"{name} is not marked with @hookspec"


@pytest.mark.parametrize(("name", "fn"), SPECS, ids=[n for n, _ in SPECS])
def test_hookspec_documented_with_exact_signature(name: str, fn: object) -> None:
    doc = (ROOT / "CONTRIBUTING.md").read_text()
    assert signature(fn) in doc, f"CONTRIBUTING.md must document `{signature(fn)}`"


@pytest.mark.parametrize(("name", "fn"), SPECS, ids=[n for n, _ in SPECS])
def test_hookspec_exercised_by_a_test(name: str, fn: object) -> None:
    source = (Path(__file__).parent / "test_hooks.py").read_text()
    assert f"def test_hook_{name}(" in source or f"async def test_hook_{name}(" in source


def test_hook_implementations_take_no_defaults() -> None:
    """pluggy never passes defaults, so a spec with one would mislead implementers."""
    for name, fn in SPECS:
        for param in inspect.signature(fn).parameters.values():
            assert param.default is inspect.Parameter.empty, f"{name}({param.name}=...)"
