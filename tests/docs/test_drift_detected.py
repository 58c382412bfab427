"""The drift tests can fail: each one, fed the change it guards against (a configuration key,
a hook, a CLI option or a public name added without documentation), reports it."""

from __future__ import annotations

import argparse

import patchwire
import pytest
from patchwire import config
from patchwire.cli.main import build_parser

from tests.docs import generate
from tests.docs.pages import hook_signature
from tests.docs.test_public_api import undocumented
from tests.docs.test_reference import config_drift, documented_hooks


def test_an_undocumented_configuration_key_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    assert config_drift() == ({}, {})
    monkeypatch.setattr(config, "_COMMON_KEYS", (*config._COMMON_KEYS, "brand_new_key"))
    missing, _ = config_drift()
    assert missing == {"connectors.NAME": ["brand_new_key"]}


def test_an_undocumented_hook_is_reported() -> None:
    def patchwire_brand_new_hook(register: object) -> None:
        """A hook nobody documented."""

    assert hook_signature(patchwire_brand_new_hook) not in documented_hooks()


def _subcommand(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            sub: argparse.ArgumentParser = action.choices[name]
            return sub
    raise AssertionError("no subcommands")


def test_an_undocumented_cli_option_is_reported() -> None:
    on_disk = generate.PAGES["cli"].read_text()
    parser = build_parser()
    assert generate.cli_page(parser) == on_disk
    _subcommand(parser, "call").add_argument("--brand-new", help="an option nobody documented")
    assert generate.cli_page(parser) != on_disk


def test_an_undocumented_public_name_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    assert undocumented("application") == []
    monkeypatch.setitem(patchwire._EXPORTS, "BrandNew", "patchwire.hub")
    assert undocumented("application") == ["BrandNew"]
