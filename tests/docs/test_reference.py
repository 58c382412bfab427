"""The reference pages cannot drift from the code: configuration keys against the loader,
hooks against hookspecs.py, generated pages against their generator, error categories,
event kinds, metrics fields, auth schemes and secret sources against core."""

from __future__ import annotations

import re

import attrs
import pytest
from patchwire import hookspecs
from patchwire.auth import AuthContext
from patchwire.clock import MonotonicClock
from patchwire.errors import Category, ConfigError
from patchwire.events import EventKind
from patchwire.metrics.snapshot import ConnectorMetrics, MetricsSnapshot
from patchwire.plugins import default_host
from patchwire.redact import Redactor
from patchwire.secrets import SecretResolver

from tests.docs import generate
from tests.docs.pages import DOCS, hook_signature, tables
from tests.docs.schema import loader_schema

REFERENCE = DOCS / "reference"
HOOKS = sorted(
    (n, f) for n, f in vars(hookspecs).items() if n.startswith("patchwire_") and callable(f)
)


def _documented_config() -> dict[str, dict[str, list[str]]]:
    return tables(REFERENCE / "configuration.md")


def _loader_keys() -> dict[str, set[str]]:
    keys = loader_schema().keys()
    # parse_backends reads 'type' itself; the rest of a backend table is the backend's own
    keys["backends.NAME"] = {"type"}
    return keys


def config_drift() -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(keys the loader takes that the page lacks, keys the page lists that the loader refuses)."""
    documented = {t: set(rows) for t, rows in _documented_config().items()}
    loaded = _loader_keys()
    missing = {t: sorted(k - documented.get(t, set())) for t, k in loaded.items()}
    extra = {t: sorted(k - loaded.get(t, set())) for t, k in documented.items()}
    return {t: k for t, k in missing.items() if k}, {t: k for t, k in extra.items() if k}


def test_every_loader_key_is_documented_and_every_documented_key_is_loaded() -> None:
    missing, extra = config_drift()
    assert not missing, (
        f"keys the loader accepts but docs/reference/configuration.md lacks: {missing}"
    )
    assert not extra, f"keys docs/reference/configuration.md lists but the loader refuses: {extra}"


def test_documented_type_default_and_bounds_are_what_the_loader_enforces() -> None:
    documented = _documented_config()
    wrong = []
    for table, reads in loader_schema().reads.items():
        for key, read in reads.items():
            row = documented.get(table, {}).get(key)
            if row is None or row[1] == "the table's name":
                continue
            want = [read.type_text(), read.default_text().strip('"'), read.bounds_text()]
            got = [row[0], row[1].strip('"'), row[2]]
            if got != want:
                wrong.append(f"[{table}] {key}: documented {got}, loader {want}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("page", sorted(generate.PAGES))
def test_generated_reference_page_is_current(page: str) -> None:
    """A new CLI option or plugin setting fails here until the page is regenerated."""
    on_disk = generate.PAGES[page].read_text()
    assert on_disk == generate.pages()[page], (
        f"docs/reference/{page}.md is stale: run .venv/bin/python -m tests.docs.generate"
    )


def documented_hooks() -> set[str]:
    """The signatures the hooks page gives as headings."""
    lines = (REFERENCE / "hooks.md").read_text().splitlines()
    return {line[4:-1] for line in lines if line.startswith("## `")}


@pytest.mark.parametrize(("name", "fn"), HOOKS, ids=[n for n, _ in HOOKS])
def test_every_hook_is_documented_with_its_exact_signature(name: str, fn: object) -> None:
    signature = hook_signature(fn)
    assert signature in documented_hooks(), f"docs/reference/hooks.md: `{signature}`"


def test_hooks_page_names_no_hook_that_does_not_exist() -> None:
    names = {n for n, _ in HOOKS}
    headings = [
        line[4:].split("(")[0]
        for line in (REFERENCE / "hooks.md").read_text().splitlines()
        if line.startswith("## `")
    ]
    assert set(headings) == names


def _first_column(page: str) -> set[str]:
    rows: set[str] = set()
    for line in (REFERENCE / page).read_text().splitlines():
        if line.startswith("| `"):
            rows.add(line.split("|")[1].strip().strip("`"))
    return rows


def test_every_error_category_is_documented() -> None:
    assert _first_column("errors.md") == {c.value for c in Category}


def test_every_event_kind_is_documented() -> None:
    assert _first_column("events.md") == {k.value for k in EventKind}


def _fields(cls: type, prefix: str = "") -> set[str]:
    out: set[str] = set()
    for field in attrs.fields(cls):
        nested = field.type if isinstance(field.type, type) else None
        if nested is None and isinstance(field.default, attrs.Factory):  # type: ignore[arg-type]
            factory = field.default.factory
            nested = factory if isinstance(factory, type) and attrs.has(factory) else None
        if nested is not None and attrs.has(nested):
            out |= _fields(nested, f"{prefix}{field.name}.")
        else:
            out.add(prefix + field.name)
    return out


def test_every_metrics_field_is_documented() -> None:
    expected = _fields(ConnectorMetrics) | _fields(MetricsSnapshot)
    assert _first_column("metrics.md") == expected


def test_every_auth_scheme_and_secret_source_has_a_guide_entry() -> None:
    text = (DOCS / "guides" / "credentials.md").read_text()
    registries = default_host().registries
    missing = [f"scheme `{s}`" for s in registries.auth_schemes if f"`{s}`" not in text]
    missing += [f"source `{s}:`" for s in registries.secret_sources if f"`{s}:" not in text]
    assert not missing, f"docs/guides/credentials.md does not document {missing}"


def scheme_keys() -> dict[str, set[str] | None]:
    """Each installed auth scheme's keys, as its factory states them when refusing an unknown
    one (None: the scheme checks no keys)."""
    registries = default_host().registries
    clock = MonotonicClock()
    resolver = SecretResolver(registries.secret_sources, clock, Redactor())
    ctx = AuthContext("c", clock, resolver, lambda: None, lambda event: None)  # type: ignore[arg-type,return-value]
    out: dict[str, set[str] | None] = {}
    for name, factory in registries.auth_schemes.items():
        try:
            factory(ctx, {"scheme": name, "zz_not_a_key": 1})
        except ConfigError as err:
            allowed = re.search(r"allowed: (.*)$", err.message)
            assert allowed, f"scheme {name} refused an unknown key without naming the allowed ones"
            out[name] = {k.strip() for k in allowed.group(1).split(",")} - {"scheme"}
        else:
            out[name] = None
    return out


def test_every_auth_scheme_setting_is_in_the_credentials_guide() -> None:
    rows: dict[str, set[str]] = {}
    for line in (DOCS / "guides" / "credentials.md").read_text().splitlines():
        if line.startswith("| `") and "|" in line[3:]:
            cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
            rows[cells[0].strip("`")] = set(re.findall(r"`([a-z_]+)`", cells[1]))
    wrong = []
    for name, keys in scheme_keys().items():
        documented = rows.get(name)
        if documented != (keys or set()):
            wrong.append(f"{name}: guide {sorted(documented or [])}, scheme {sorted(keys or [])}")
    assert not wrong, "docs/guides/credentials.md 'Auth schemes':\n" + "\n".join(wrong)
