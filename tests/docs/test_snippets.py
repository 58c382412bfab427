"""Every Python snippet in the docs and the README runs, against the simulators; every TOML
configuration in them loads.

A page's snippets run in order in one namespace (a later snippet may use an earlier one's
names), in a folder holding ``patchwire.toml``: the sandbox configuration below, with the
page's own configuration merged over it when the page marks a TOML block with a first line
``# patchwire.toml``. Provider connectors get the loopback simulators' URLs as ``base_url``,
so a page shows the configuration a user writes and the snippet still runs offline.
Top-level ``await`` and ``async with`` work as in a notebook.
"""

from __future__ import annotations

import ast
import asyncio
import datetime
import inspect
import os
import sys
import tomllib
import types
from collections.abc import Mapping
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from patchwire.config import parse_config
from patchwire.plugins import default_host
from patchwire.testing.simulator import Simulator

from tests.docs.pages import ROOT, Block, blocks, pages

PROVIDERS = ("openai", "anthropic", "gemini")
KEYS = {
    "OPENAI_API_KEY": "sk-docs-not-real",
    "ANTHROPIC_API_KEY": "docs-not-real",
    "GEMINI_API_KEY": "docs-not-real",
}
SANDBOX: Mapping[str, Any] = {
    "connectors": {
        "openai": {"api_key": "env:OPENAI_API_KEY"},
        "anthropic": {"api_key": "env:ANTHROPIC_API_KEY"},
        "gemini": {"api_key": "env:GEMINI_API_KEY"},
        "time": {"type": "mcp", "command": "mcp-server-time"},
        "pandoc": {
            "type": "cli",
            "commands": {
                "convert": {"argv": ["pandoc", "-f", "markdown", "-t", "html"], "stdin": "text"}
            },
        },
    },
    "routes": {"fast": {"targets": ["openai:gpt-4o-mini", "anthropic:claude-haiku-4-5"]}},
}
PAGES = [p for p in pages() if any(b.language in ("python", "toml") for b in blocks(p))]


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f'"{k}" = {_toml_value(v)}' for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def dump_toml(data: Mapping[str, Any]) -> str:
    """Nested tables as inline tables under one root table each: enough for configurations."""
    return "\n".join(f'"{key}" = {_toml_value(value)}' for key, value in data.items()) + "\n"


def _page_config(page: Path) -> dict[str, Any]:
    config: dict[str, Any] = dict(SANDBOX)
    for block in blocks(page):
        if block.language == "toml" and block.code.startswith("# patchwire.toml"):
            config = _merge(config, tomllib.loads(block.code))
    return config


def _with_simulators(config: dict[str, Any], urls: Mapping[str, str]) -> dict[str, Any]:
    connectors = {}
    for name, table in config.get("connectors", {}).items():
        kind = table.get("type", name)
        connectors[name] = {**table, "base_url": urls[kind]} if kind in urls else table
    return {**config, "connectors": connectors}


async def _run_page(page: Path, folder: Path) -> None:
    async with AsyncExitStack() as stack:
        urls = {}
        for provider in PROVIDERS:
            sim = await stack.enter_async_context(Simulator(provider, seed=7))
            urls[provider] = sim.base_url
        config = _with_simulators(_page_config(page), urls)
        (folder / "patchwire.toml").write_text(dump_toml(config))
        # A real module, so dataclasses and pickling can find the snippets' classes.
        module = types.ModuleType("patchwire_docs_snippet")
        sys.modules[module.__name__] = module
        try:
            for block in blocks(page):
                if block.language == "python":
                    await _run_block(block, vars(module))
        finally:
            del sys.modules[module.__name__]


async def _run_block(block: Block, namespace: dict[str, Any]) -> None:
    # Line numbers in a traceback are the page's own.
    source = "\n" * (block.line - 1) + block.code
    code = compile(source, block.where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    result = eval(code, namespace)
    if inspect.iscoroutine(result):
        await result


@pytest.mark.integration  # simulators on loopback, and the programs pages drive (pandoc, jq,
# mcp-server-time, redis-server: provisioned by scripts/provision.sh and requirements-dev)
@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_python_snippet_runs_against_the_simulators(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("PATCHWIRE_CONFIG", raising=False)
    # Programs the snippets name (mcp-server-time, installed with the dev requirements)
    # are found as `make test` finds them, with the virtualenv's bin first.
    bin_dir = str(Path(sys.executable).parent)
    monkeypatch.setenv("PATH", bin_dir + os.pathsep + os.environ.get("PATH", ""))
    # A snippet that blocks the loop (a synchronous request to a server on it) fails here
    # instead of hanging the suite.
    asyncio.run(asyncio.wait_for(_run_page(page, tmp_path), timeout=60))


TOML = [b for p in pages() for b in blocks(p) if b.language == "toml"]


@pytest.mark.parametrize("block", TOML, ids=[b.where for b in TOML])
def test_every_toml_configuration_loads(block: Block) -> None:
    registries = default_host().registries
    parse_config(
        tomllib.loads(block.code),
        source=block.where,
        connector_types=registries.connectors,
        secret_schemes=registries.secret_sources,
        auth_secrets=registries.auth_secrets,
    )


def test_the_sandbox_configuration_is_the_one_the_snippets_see() -> None:
    """The TOML writer round-trips what it writes (else the snippets would run another config)."""
    config = _merge(
        SANDBOX, {"hub": {"escalate": ["auth"]}, "connectors": {"openai": {"timeout": 5.5}}}
    )
    assert tomllib.loads(dump_toml(config)) == config
