"""``patchwire prices`` lists every first-party entry with its date and source, and says
which entries configuration replaced."""

from __future__ import annotations

import json

from patchwire.cli.main import main
from patchwire_anthropic.prices import PRICES as ANTHROPIC
from patchwire_gemini.prices import PRICES as GEMINI
from patchwire_openai.prices import PRICES as OPENAI


def test_every_first_party_entry_is_listed_with_its_date_and_source(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PATCHWIRE_CONFIG", raising=False)
    assert main(["prices", "--json"]) == 0
    listed = {(e["connector_type"], e["model"]): e for e in json.loads(capsys.readouterr().out)}
    for ctype, table in (("openai", OPENAI), ("anthropic", ANTHROPIC), ("gemini", GEMINI)):
        for model in table:
            entry = listed[(ctype, model)]
            assert entry["origin"] == f"plugin {ctype}"
            (price,) = entry["prices"]
            assert price["source"] and price["as_of"][:4].isdigit(), (ctype, model)
    assert main(["prices"]) == 0
    text = capsys.readouterr().out
    assert "anthropic:claude-sonnet-4-5" in text and "platform.claude.com" in text


def test_a_configured_price_replaces_the_plugin_entry_and_says_so(capsys, tmp_path, monkeypatch):
    config = tmp_path / "patchwire.toml"
    config.write_text(
        '[prices."anthropic:claude-haiku-4-5"]\n'
        "input = 0.8\noutput = 4.0\ncache_write_5m = 1.0\n"
        "service_tiers = { batch = 0.5, priority = 1.25 }\n"
    )
    assert main(["prices", "--json", "--config", str(config), "claude-haiku-4-5"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)
    assert entry["origin"] == "configuration"
    (price,) = entry["prices"]
    assert price["input"] == 0.8 and price["cache_write_1h"] is None
    assert price["service_tiers"] == {"batch": 0.5, "priority": 1.25}


def test_a_bad_configured_price_is_an_error_naming_the_key(capsys, tmp_path):
    config = tmp_path / "patchwire.toml"
    config.write_text('[prices."anthropic:claude-haiku-4-5"]\ninput = 0.8\n')
    assert main(["prices", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "output" in err and "missing" in err
