"""The lazy exports of ``patchwire`` and ``patchwire.plugin_api``: one helper makes both
modules' ``__getattr__``/``__dir__``, nothing is imported before it is used, and every
exported name is an explicit re-export for type checkers (``import X as X``), so
``from patchwire import Hub`` passes ``mypy --strict``."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import patchwire
import patchwire.plugin_api
import pytest

MODULES = [patchwire, patchwire.plugin_api]


def _typed_reexports(module: ModuleType) -> dict[str, str]:
    """name -> module of each ``from M import X as X`` under ``if TYPE_CHECKING:``."""
    assert module.__file__ is not None
    tree = ast.parse(Path(module.__file__).read_text())
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for stmt in node.body:
                if isinstance(stmt, ast.ImportFrom) and stmt.module is not None:
                    for alias in stmt.names:
                        if alias.asname == alias.name:
                            found[alias.name] = stmt.module
    return found


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_every_export_is_an_explicit_reexport_from_the_module_the_map_names(
    module: ModuleType,
) -> None:
    assert _typed_reexports(module) == module._EXPORTS


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_an_export_resolves_to_its_home_and_is_kept_as_a_global(module: ModuleType) -> None:
    for name, home in module._EXPORTS.items():
        value = getattr(module, name)
        assert value is getattr(sys.modules[home], name)
        assert vars(module)[name] is value, "the second lookup is a plain global"
        assert name in dir(module)


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_an_unknown_name_is_an_attribute_error_naming_the_module(module: ModuleType) -> None:
    with pytest.raises(AttributeError, match=f"module '{module.__name__}' has no attribute 'Nope'"):
        module.Nope  # noqa: B018 -- the lookup is the test


def test_importing_patchwire_imports_none_of_its_exports() -> None:
    homes = sorted(set(patchwire._EXPORTS.values()) | set(patchwire.plugin_api._EXPORTS.values()))
    probe = (
        "import sys, patchwire, patchwire.plugin_api\n"
        f"print([m for m in {homes!r} if m in sys.modules])"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"
