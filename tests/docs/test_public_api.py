"""The public API is stated: every documented name exists, every exported name is
documented, and ``__all__`` is derived from the one export table."""

from __future__ import annotations

import importlib
from types import ModuleType

import patchwire
import patchwire.plugin_api
import pytest

from tests.docs.pages import DOCS

SURFACES = {"application": patchwire, "plugin": patchwire.plugin_api}


def _documented(page: str) -> list[str]:
    names = []
    for line in (DOCS / "api" / f"{page}.md").read_text().splitlines():
        if line.startswith("| `"):
            names.append(line.split("|")[1].strip().strip("`"))
    return names


@pytest.mark.parametrize("page", sorted(SURFACES))
def test_every_documented_public_name_still_exists(page: str) -> None:
    module: ModuleType = SURFACES[page]
    gone = [name for name in _documented(page) if not hasattr(module, name)]
    assert not gone, (
        f"{module.__name__} no longer provides {gone}, which docs/api/{page}.md documents"
    )


def undocumented(page: str) -> list[str]:
    exports: dict[str, str] = SURFACES[page]._EXPORTS
    return sorted(set(exports) - set(_documented(page)))


@pytest.mark.parametrize("page", sorted(SURFACES))
def test_every_exported_name_is_documented(page: str) -> None:
    module: ModuleType = SURFACES[page]
    missing = undocumented(page)
    assert not missing, (
        f"{missing} exported by {module.__name__} but not in docs/api/{page}.md:"
        " run .venv/bin/python -m tests.docs.generate"
    )


@pytest.mark.parametrize("page", sorted(SURFACES))
def test_all_is_derived_from_the_export_table(page: str) -> None:
    module: ModuleType = SURFACES[page]
    exports: dict[str, str] = module._EXPORTS
    assert set(module.__all__) - {"__version__"} == set(exports)
    for name, home in exports.items():
        assert getattr(importlib.import_module(home), name) is getattr(module, name), name


def test_old_import_paths_keep_working() -> None:
    """A plugin written before the front door imports from the defining modules."""
    for name, home in patchwire.plugin_api._EXPORTS.items():
        assert hasattr(importlib.import_module(home), name), f"{home}.{name}"


def test_every_public_module_the_api_page_names_imports() -> None:
    """The modules docs/api/index.md calls public exist (everything else is internal)."""
    named = set()
    for line in (DOCS / "api" / "index.md").read_text().splitlines():
        if line.startswith("| [") or line.startswith("| testing") or line.startswith("| hooks"):
            named |= {
                m
                for m in line.split("|")[2].replace("`", "").split(",")
                if "." in m or m.strip() == "patchwire"
            }
    modules = {m.strip() for m in named}
    assert {"patchwire", "patchwire.plugin_api", "patchwire.testing.conformance"} <= modules
    for module in modules:
        importlib.import_module(module)
