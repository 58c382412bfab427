"""The proxy rule keeps its answers per origin while the environment holds (issue 19), and
the cache never hides a change: a connector added later, a rotated secret, a new variable."""

from __future__ import annotations

import pytest
from patchwire.proxy import ProxyRules, proxy_request_class

_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


class _Secret:
    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value


class _RotatingSecrets:
    """A resolver whose one reference gives the next value on every read."""

    def __init__(self, values: list[str]) -> None:
        self.values = values
        self.reads = 0

    def resolve(self, reference: str, *, where: str = "") -> _Secret:
        value = self.values[min(self.reads, len(self.values) - 1)]
        self.reads += 1
        return _Secret(value)

    def protect(self, value: str) -> None:
        return None


def test_one_origin_gets_the_kept_answer_until_the_environment_changes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rules = ProxyRules(None, None, "<test>")
    monkeypatch.setenv("HTTPS_PROXY", "http://env-proxy:3128")
    first = rules.for_url("https://api.example.com/v1/chat/completions")
    again = rules.for_url("https://api.example.com/v1/embeddings")
    assert first is not None and again is first  # kept, not rebuilt
    monkeypatch.setenv("HTTPS_PROXY", "http://other-proxy:8080")
    changed = rules.for_url("https://api.example.com/v1/chat/completions")
    assert changed is not None and changed.url.host == "other-proxy"


def test_a_connector_added_after_an_answer_decides_its_origin() -> None:
    rules = ProxyRules(None, None, "<test>")
    assert rules.for_url("https://api.example.com/v1") is None
    rules.add("c", "http://own-proxy:3128", ["https://api.example.com/v1"])
    chosen = rules.for_url("https://api.example.com/v1")
    assert chosen is not None and chosen.url.host == "own-proxy"


def test_a_proxy_behind_a_reference_is_resolved_on_every_request() -> None:
    secrets = _RotatingSecrets(["http://first-proxy:3128", "http://second-proxy:3128"])
    rules = ProxyRules("env:CORP_PROXY", secrets, "<test>")  # type: ignore[arg-type]
    first = rules.for_url("https://api.example.com/v1")
    second = rules.for_url("https://api.example.com/v1")
    assert first is not None and first.url.host == "first-proxy"
    assert second is not None and second.url.host == "second-proxy"


def test_the_request_class_leaves_aiohttps_constructor_alone() -> None:
    """The rule is applied in update_proxy: a constructor override packed and unpacked
    aiohttp's keyword arguments on every request (about 19k instructions a W2 call)."""
    made = proxy_request_class(ProxyRules(None, None, "<test>"))
    assert "__init__" not in vars(made)
    assert "update_proxy" in vars(made)
